package dev.userstore.internal.binding

import dev.userstore.internal.binding.ExtractedLibrary
import java.io.IOException
import java.nio.file.Path
import java.nio.file.Paths
import java.util.Locale

/**
 * Loads the Rust library once per JVM. Order:
 * 1. the system property `userstore.library.path` (a file), if set: loaded from there, nothing extracted and
 *    the temporary directory not touched;
 * 2. the library packed in the jar under `native/<os>-<arch>/`, extracted to `java.io.tmpdir` as a locked copy
 *    ([ExtractedLibrary]: deleted at a normal exit; a killed JVM's copy is deleted by the next extraction, which
 *    first removes every copy no live JVM holds);
 * 3. otherwise an [UnsatisfiedLinkError] listing everything that was tried.
 *
 * Users never set `LD_LIBRARY_PATH` or `java.library.path`.
 */
internal object NativeLoader {
    /** The system property that overrides the packed library with a file path. */
    const val PATH_PROPERTY = "userstore.library.path"

    /** The platform folder inside the jar, e.g. `linux-x86_64`. */
    val platform: String by lazy { "${osName()}-${archName()}" }

    /** The library's file name on this OS. */
    val libraryFileName: String by lazy {
        when (osName()) {
            "darwin" -> "libuserstore.dylib"
            "windows" -> "userstore.dll"
            else -> "libuserstore.so"
        }
    }

    /** Where the library was loaded from, once loaded. */
    @Volatile
    var loadedFrom: String? = null
        private set

    /** The extracted copy this class loader loaded (null with the override); kept so its lock stays held. */
    @Volatile
    private var extracted: ExtractedLibrary? = null

    /** The file the library was loaded from when it was extracted (null with the override, or before loading). */
    val extractedPath: Path? get() = extracted?.library

    @Volatile
    private var loaded = false

    /** True while this class loader's [load] runs (guarded by this object's monitor). */
    private var loading = false

    /**
     * Loads the library if it is not loaded yet; throws [UnsatisfiedLinkError] if it cannot (a later call
     * tries again).
     *
     * Not a `lazy`: `System.load` runs the library's `JNI_OnLoad`, which initialises `NativeBridge`, whose
     * initialiser calls this again on the same thread. A `lazy` (its monitor is reentrant) ran its initialiser
     * a second time there, and the FFM path (which loads before touching `NativeBridge`) extracted and loaded a
     * second copy of the library. Here the reentrant call returns: the library is being loaded by its caller.
     */
    fun ensureLoaded() {
        if (loaded) return
        synchronized(this) {
            if (loaded || loading) return
            loading = true
            try {
                load()
                loaded = true
            } finally {
                loading = false
            }
        }
    }

    private fun load() {
        val tried = mutableListOf<String>()
        val override = System.getProperty(PATH_PROPERTY)
        if (!override.isNullOrBlank()) {
            val path = Paths.get(override).toAbsolutePath()
            try {
                System.load(path.toString())
                loadedFrom = path.toString()
                return
            } catch (e: UnsatisfiedLinkError) {
                tried += "-D$PATH_PROPERTY=$path: ${e.message}"
                // An explicit override that fails is an error: do not silently load something else.
                throw linkError(tried)
            }
        }
        val resource = "native/$platform/$libraryFileName"
        val url = NativeLoader::class.java.classLoader?.getResource(resource)
        if (url == null) {
            tried += "classpath resource $resource: not found (no build for $platform in the jar)"
            throw linkError(tried)
        }
        val tmp = Paths.get(System.getProperty("java.io.tmpdir")).toAbsolutePath()
        // Copies left by JVMs that died without their exit hooks (SIGKILL, crash): removed before adding ours.
        ExtractedLibrary.removeStale(tmp)
        val copy =
            try {
                ExtractedLibrary.extract(tmp, libraryFileName.substringAfterLast('.')) {
                    NativeLoader::class.java.classLoader.getResourceAsStream(resource)
                        ?: throw IOException("resource $resource vanished")
                }
            } catch (e: IOException) {
                tried += "classpath resource $resource: extraction to $tmp (java.io.tmpdir) failed: $e"
                throw linkError(tried)
            }
        try {
            System.load(copy.library.toString())
            extracted = copy
            loadedFrom = url.toString()
        } catch (e: UnsatisfiedLinkError) {
            copy.discard()
            tried += "classpath resource $resource, extracted to ${copy.library}: ${e.message}" +
                " (if java.io.tmpdir is mounted noexec, point -Djava.io.tmpdir elsewhere or set -D$PATH_PROPERTY)"
            throw linkError(tried)
        }
    }

    private fun linkError(tried: List<String>) =
        UnsatisfiedLinkError(
            "could not load the userstore native library for $platform; tried:\n" +
                tried.joinToString("\n") { "  - $it" },
        )

    private fun osName(): String {
        val os = System.getProperty("os.name").lowercase(Locale.ROOT)
        return when {
            os.startsWith("linux") -> "linux"
            os.startsWith("mac") || os.startsWith("darwin") -> "darwin"
            os.startsWith("windows") -> "windows"
            else -> os.replace(Regex("[^a-z0-9]"), "")
        }
    }

    private fun archName(): String =
        when (val arch = System.getProperty("os.arch").lowercase(Locale.ROOT)) {
            "amd64", "x86_64" -> "x86_64"
            "aarch64", "arm64" -> "aarch64"
            else -> arch
        }
}
