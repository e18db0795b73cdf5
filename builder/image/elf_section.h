/* Finds a named section in an ELF64 little-endian file by its section
 * headers: a few small reads, where scanning the file for a marker would read
 * all of it (amlserve is megabytes). */
#ifndef AMLPKG_ELF_SECTION_H
#define AMLPKG_ELF_SECTION_H

#include <stdint.h>

/* 0 and the section's file offset and size; -1 when the file is not such an
 * ELF file or has no section of that name (no message is set). */
int elf_section_find(int fd, const char *name, uint64_t *offset, uint64_t *size);

#endif
