/* Which x86-64 vector extensions the optimized CPU kernels may use, decided
 * once from CPUID. Kernels are compiled per function with
 * __attribute__((target(...))), so the binary runs on any x86-64 and picks
 * the widest path the CPU has; every path has a portable C fallback.
 * cpu_isa_limit caps the choice (tests run each path; never raises it). */
#ifndef AMLSERVE_CPU_ISA_H
#define AMLSERVE_CPU_ISA_H

enum cpu_isa { CPU_ISA_GENERIC = 0, CPU_ISA_AVX2 = 1, CPU_ISA_AVX512 = 2 };

enum cpu_isa cpu_isa(void);
enum cpu_isa cpu_isa_detected(void);
void cpu_isa_limit(enum cpu_isa max);
const char *cpu_isa_name(enum cpu_isa isa);

#endif
