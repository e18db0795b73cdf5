#include "builder/image/elf_section.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_exact(int fd, void *buf, size_t len, uint64_t at)
{
    return pread(fd, buf, len, (off_t)at) == (ssize_t)len ? 0 : -1;
}

int elf_section_find(int fd, const char *name, uint64_t *offset, uint64_t *size)
{
    Elf64_Ehdr eh;
    struct stat st;
    if (fstat(fd, &st) != 0 || read_exact(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096 || eh.e_shstrndx >= eh.e_shnum)
        return -1;
    Elf64_Shdr *sh = calloc(eh.e_shnum, sizeof *sh);
    char *names = NULL;
    int rc = -1;
    if (!sh || read_exact(fd, sh, eh.e_shnum * sizeof *sh, eh.e_shoff) != 0)
        goto done;
    const Elf64_Shdr *strtab = &sh[eh.e_shstrndx];
    if (strtab->sh_size == 0 || strtab->sh_size > (1 << 20) || !(names = malloc(strtab->sh_size + 1)) ||
        read_exact(fd, names, strtab->sh_size, strtab->sh_offset) != 0)
        goto done;
    names[strtab->sh_size] = '\0';
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        if (sh[i].sh_name < strtab->sh_size && !strcmp(names + sh[i].sh_name, name) && sh[i].sh_type == SHT_PROGBITS &&
            sh[i].sh_offset <= (uint64_t)st.st_size && sh[i].sh_size <= (uint64_t)st.st_size - sh[i].sh_offset) {
            *offset = sh[i].sh_offset;
            *size = sh[i].sh_size;
            rc = 0;
            break;
        }
    }
done:
    free(sh);
    free(names);
    return rc;
}
