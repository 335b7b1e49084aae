//! Entering Rust from JIT-compiled Java code: clear the upper halves of the vector registers.
//!
//! # Why
//! HotSpot's C2 compiles Java with AVX2/AVX-512 instructions where the CPU has them (zeroing a
//! new array, copying bytes, building strings), and leaves the upper halves of the `ymm`/`zmm`
//! registers dirty. This library is compiled for the x86-64 baseline, so its vector code is
//! legacy SSE (`movdqa`, `pxor`, …). On Intel cores an SSE instruction executed while the upper
//! state is dirty pays a penalty (a merge with the upper bits, or a state transition), which the
//! Intel optimization manual avoids with a `vzeroupper` before SSE code runs. Calls through JNI
//! did not show the stall (HotSpot's JNI wrappers appear to clear the state), but a
//! `java.lang.foreign` critical downcall goes straight from compiled Java to the C function. Measured on an Intel Xeon (Sapphire Rapids family, JDK 25, a
//! plain loop of `get` over 1M users): 84% of the `userstore_get` wrapper's samples sat on the
//! first 16-byte SSE store after the entry, and a get through FFM cost about 2x one through JNI;
//! with this call at the entry the stall is gone and FFM is the faster binding
//! (docs/results/2026-12-07-issue19/vzeroupper/).
//! AMD cores are not known for this penalty, the likely reason a run on an AMD EPYC had FFM
//! and JNI even.
//!
//! `vzeroupper` costs about one cycle and changes no value that Rust keeps (the C ABI does not
//! preserve vector registers across a call, and this runs at the entry, before any vector value
//! of ours is live), so every call into the store takes it, from either binding.
//!
//! No crate offers this one instruction as a safe call on stable Rust (`core::arch`'s
//! `_mm256_zeroupper` needs `#[target_feature(enable = "avx")]`, which is just as unsafe to call
//! and is what this does, with the runtime check made once per process by std).

/// Clears the upper halves of the vector registers when the CPU and OS support AVX; a no-op
/// elsewhere (other architectures, or x86-64 without AVX, where no dirty upper state exists).
#[inline(always)]
pub(crate) fn clear_upper() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `vzeroupper` exists on every CPU with AVX, and std's check above also confirmed
        // that the OS saves the AVX state. It zeroes bits 128 and up of ymm0-15/zmm0-15 and
        // touches no memory, stack or flags (`nomem`, `nostack`, `preserves_flags`); the
        // `clobber_abi("C")` tells the compiler that every caller-saved register, vector ones
        // included, may have changed, so it keeps no value of ours in them across this point.
        unsafe {
            std::arch::asm!(
                "vzeroupper",
                clobber_abi("C"),
                options(nomem, nostack, preserves_flags)
            );
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::clear_upper;

    /// Whether the upper halves of the ymm registers are in use (XINUSE bit 2), where the CPU
    /// reports it (`XGETBV` with ECX = 1); `None` where it cannot be read.
    fn upper_in_use() -> Option<bool> {
        // CPUID leaf 0xD, sub-leaf 1, EAX bit 2: XGETBV with ECX = 1 is supported.
        let leaf = std::arch::x86_64::__cpuid_count(0xD, 1);
        if !std::arch::is_x86_feature_detected!("xsave") || leaf.eax & (1 << 2) == 0 {
            return None;
        }
        let (low, _high): (u32, u32);
        // SAFETY: XGETBV with ECX = 1 exists (checked just above) and only reads the XINUSE
        // bitmap into EDX:EAX; it touches no memory, stack or flags.
        unsafe {
            std::arch::asm!("xgetbv", in("ecx") 1u32, out("eax") low, out("edx") _high,
                options(nomem, nostack, preserves_flags));
        }
        Some(low & (1 << 2) != 0)
    }

    /// Dirties the upper halves as JIT-compiled Java does, then checks that `clear_upper` leaves
    /// them clean: the property the FFM downcalls rely on. Skipped (passes) without AVX or
    /// without a readable XINUSE.
    #[test]
    fn clear_upper_leaves_no_dirty_upper_state() {
        if !std::arch::is_x86_feature_detected!("avx2") || upper_in_use().is_none() {
            return;
        }
        // SAFETY: AVX2 is present (checked); the instruction only sets ymm0 to all ones, which
        // the clobber declares, and touches no memory, stack or flags.
        unsafe {
            std::arch::asm!("vpcmpeqb ymm0, ymm0, ymm0", out("ymm0") _,
                options(nomem, nostack, preserves_flags));
        }
        assert_eq!(
            upper_in_use(),
            Some(true),
            "the test could not dirty the upper state"
        );
        clear_upper();
        assert_eq!(upper_in_use(), Some(false));
    }
}
