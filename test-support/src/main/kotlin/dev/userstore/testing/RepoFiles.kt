package dev.userstore.testing

import java.nio.file.Files
import java.nio.file.Path

/** Files of the repository (the spec, the Rust sources a test holds the JVM side to) for tests that run in a module's folder. */
object RepoFiles {
    /** [relative], found in the working directory or the nearest folder above it that has it. */
    fun find(relative: String): Path {
        val start = Path.of("").toAbsolutePath()
        var dir: Path? = start
        while (dir != null) {
            val candidate = dir.resolve(relative)
            if (Files.exists(candidate)) return candidate
            dir = dir.parent
        }
        error("$relative not found in $start or any folder above it")
    }
}
