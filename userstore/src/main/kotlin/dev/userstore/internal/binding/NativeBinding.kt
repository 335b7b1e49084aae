package dev.userstore.internal.binding

import dev.userstore.internal.binding.NativeBridge
import dev.userstore.internal.binding.NativeLoader

/**
 * Picks the binding of this JVM, once: `-Duserstore.binding=jni|ffm` if set; else FFM on JDK 22 and later when
 * the jar carries it (`META-INF/versions/22`, absent from a jar built where no JDK 22+ was installed), else JNI.
 *
 * A forced binding that cannot be had is an error, not a silent fallback: `ffm` on JDK 21 or older, or with a
 * JNI-only jar, throws [UnsupportedOperationException] naming why.
 */
internal object NativeBinding {
    /** The system property that forces a binding: `jni` or `ffm`. */
    const val PROPERTY = "userstore.binding"

    /** The FFM binding's class, compiled for JDK 22 (Java: `src/main/java22`). */
    private const val FFM_CLASS = "dev.userstore.internal.binding.FfmCalls"

    /** Where the multi-release jar keeps it. */
    private const val FFM_RESOURCE = "META-INF/versions/22/dev/userstore/internal/binding/FfmCalls.class"

    val calls: NativeCalls = choose()

    /** The FFM binding, loaded at most once (null: this jar has none). */
    private val ffmCalls: NativeCalls? by lazy { ffm() }

    /** The named binding, whatever the default: `jni` or `ffm` (see [dev.userstore.NativeUserStore.withBinding]). */
    fun named(name: String): NativeCalls =
        when (name) {
            "jni" -> {
                jni()
            }

            "ffm" -> {
                val feature = Runtime.version().feature()
                if (feature < 22) {
                    throw UnsupportedOperationException("the FFM binding needs JDK 22 or later; this is JDK $feature")
                }
                if (calls.name == "ffm") {
                    calls
                } else {
                    ffmCalls ?: throw UnsupportedOperationException(
                        "this userstore jar has no FFM binding (it was built without a JDK 22+)",
                    )
                }
            }

            else -> {
                throw IllegalArgumentException("binding must be jni or ffm, not $name")
            }
        }

    private fun choose(): NativeCalls {
        val forced = System.getProperty(PROPERTY)?.trim()?.lowercase()
        val feature = Runtime.version().feature()
        return when (forced) {
            "jni" -> {
                jni()
            }

            "ffm" -> {
                if (feature < 22) {
                    throw UnsupportedOperationException(
                        "-D$PROPERTY=ffm: the FFM binding needs JDK 22 or later; this is JDK $feature",
                    )
                }
                ffm() ?: throw UnsupportedOperationException(
                    "-D$PROPERTY=ffm: this userstore jar has no FFM binding (it was built without a JDK 22+)",
                )
            }

            null, "" -> {
                if (feature >= 22) ffm() ?: jni() else jni()
            }

            else -> {
                throw IllegalArgumentException("-D$PROPERTY=$forced: expected jni or ffm")
            }
        }
    }

    private fun jni(): NativeCalls {
        NativeBridge.hasTestHooks0() // loads the library and registers the natives
        return JniCalls
    }

    /** The FFM binding, or null when this jar has none. Its own failures (a wrong library) propagate. */
    private fun ffm(): NativeCalls? {
        // FfmCalls finds its symbols in the libraries this class loader loaded: load it first.
        NativeLoader.ensureLoaded()
        val type =
            try {
                Class.forName(FFM_CLASS, true, NativeBinding::class.java.classLoader)
            } catch (_: ClassNotFoundException) {
                // A JNI-only jar has no FFM class at all; a fat jar that dropped `Multi-Release: true` has it
                // where this JDK no longer looks. Say so once: the JNI fallback would otherwise hide it.
                if (NativeBinding::class.java.classLoader?.getResource(FFM_RESOURCE) != null) {
                    System.err.println(
                        "userstore: the FFM binding is in $FFM_RESOURCE but the jar holding it is not multi-release " +
                            "(a fat jar without 'Multi-Release: true' in its manifest?): using JNI",
                    )
                }
                return null
            }
        return type.getDeclaredConstructor().newInstance() as NativeCalls
    }
}
