package dev.userstore

import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.nio.file.StandardCopyOption
import java.util.Locale

/**
 * Loads the Rust library once per JVM. Order:
 * 1. the system property `userstore.library.path` (a file), if set;
 * 2. the library packed in the jar under `native/<os>-<arch>/`, extracted to a temporary file;
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

    private val loaded: Unit by lazy { load() }

    /** Loads the library if it is not loaded yet; throws [UnsatisfiedLinkError] if it cannot. */
    fun ensureLoaded() = loaded

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
        val extracted =
            try {
                extract(resource)
            } catch (e: IOException) {
                tried += "classpath resource $resource: extraction failed: ${e.message}"
                throw linkError(tried)
            }
        try {
            System.load(extracted.toString())
            loadedFrom = url.toString()
        } catch (e: UnsatisfiedLinkError) {
            tried += "classpath resource $resource, extracted to $extracted: ${e.message}"
            throw linkError(tried)
        }
    }

    /** Copies the packed library to a fresh temporary file, deleted when the JVM exits. */
    private fun extract(resource: String): Path {
        val dir = Files.createTempDirectory("userstore-native")
        val file = dir.resolve(libraryFileName)
        val input =
            NativeLoader::class.java.classLoader.getResourceAsStream(resource)
                ?: throw IOException("resource $resource vanished")
        input.use { Files.copy(it, file, StandardCopyOption.REPLACE_EXISTING) }
        file.toFile().deleteOnExit()
        dir.toFile().deleteOnExit()
        return file
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
