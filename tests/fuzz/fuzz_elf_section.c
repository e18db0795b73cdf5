/* libFuzzer target: finding amlserve's build-info section in a runtime binary
 * given with --runtime (any file): ELF header, section headers, name table. */
#include "builder/image/elf_section.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        uint64_t offset, len;
        if (elf_section_find(fd, ".amlserve_build_info", &offset, &len) == 0 && (offset > size || len > size - offset))
            __builtin_trap(); /* a section that is not inside the file must not be reported */
    }
    close(fd);
    return 0;
}
