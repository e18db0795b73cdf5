#include "cpu_isa.h"

#include <stdatomic.h>

static atomic_int limit = CPU_ISA_AVX512;

enum cpu_isa cpu_isa_detected(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CPU_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CPU_ISA_AVX2;
#endif
    return CPU_ISA_GENERIC;
}

enum cpu_isa cpu_isa(void)
{
    static atomic_int detected = -1;
    int d = atomic_load(&detected);
    if (d < 0) {
        d = (int)cpu_isa_detected();
        atomic_store(&detected, d);
    }
    int l = atomic_load(&limit);
    return (enum cpu_isa)(d < l ? d : l);
}

void cpu_isa_limit(enum cpu_isa max)
{
    atomic_store(&limit, (int)max);
}

const char *cpu_isa_name(enum cpu_isa isa)
{
    switch (isa) {
    case CPU_ISA_AVX512: return "avx512";
    case CPU_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}
