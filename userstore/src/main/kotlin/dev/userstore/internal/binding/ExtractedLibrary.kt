package dev.userstore.internal.binding

import java.io.IOException
import java.io.InputStream
import java.nio.channels.FileChannel
import java.nio.channels.FileLock
import java.nio.channels.OverlappingFileLockException
import java.nio.file.DirectoryIteratorException
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.StandardOpenOption
import java.time.Duration
import java.time.Instant

/**
 * One copy of the packed native library extracted to the temporary directory, and the lock that says a live
 * JVM uses it (docs/BUILD.md, "Native library extraction"). Each copy is a pair of files side by side:
 *
 * - `userstore-native-<pid>-<start>-<n>.lck`, created first and held with an exclusive `FileChannel.tryLock`
 *   for as long as the class loader that loaded the library lives;
 * - `userstore-native-<pid>-<start>-<n>.so` (`.dylib`, `.dll`), the library, written only once that lock is held.
 *
 * A normal exit deletes both (`deleteOnExit`, the library first). A JVM that dies without running its exit hooks
 * (SIGKILL, `Runtime.halt`, a crash) leaves both, and its lock with it, since the OS releases a dead process's
 * locks: [removeStale], run by the next extraction, deletes every pair whose lock it can take, and any library
 * whose lock file is gone. A live JVM's copy is never touched, because its lock cannot be taken.
 *
 * Why not what the model loaders do (none of them is a library we could call; each is private to its project):
 * - sqlite-jdbc (`SQLiteJDBCLoader`) writes its `.lck` as a plain marker, after the library, and deletes a copy
 *   whose marker is missing: a killed JVM leaves both files, so its copy is never removed, and a JVM that has
 *   just written its library but not yet its marker can lose its copy to another JVM's cleanup. Here the lock
 *   file is an OS lock (a killed owner releases it) and exists before the library does.
 * - zstd-jni deletes its temporary copy right after `System.load` (Linux and macOS allow it; Windows cannot
 *   delete a loaded DLL, so the copy stays there), and rocksdbjni relies on `deleteOnExit`, which a kill skips.
 *   Deleting the file under a live mapping would also leave nothing behind on Linux, but profilers read a
 *   library's symbol table from its file (async-profiler opens the path in /proc/self/maps; perf too): the
 *   profiles in docs/BENCHMARKS.md name Rust functions such as `Store::read_name` only because the extracted
 *   file is there. So the copy stays for the JVM's life, and a lock makes its leftovers safe to remove.
 *
 * The `<pid>-<start>` part (the process id and its start time) names the process: [removeStale] never opens a
 * lock file of its own process. The JVM's file locks are classic POSIX record locks, which the kernel drops as
 * soon as the process closes *any* descriptor of the file, so probing the lock of a copy that another class
 * loader of this same JVM holds would silently release it.
 */
internal class ExtractedLibrary private constructor(
    /** The extracted library, the file to `System.load`. */
    val library: Path,
    /** Its lock file. */
    val lockFile: Path,
    // Both must stay reachable while the library is in use: an unreachable channel is closed by the JDK's
    // cleaner, which would release the lock and let another JVM delete the copy.
    private val channel: FileChannel,
    private val lock: FileLock,
) {
    /** Deletes this copy and its lock file now (after a failed load); best effort. */
    fun discard() {
        deleteQuietly(library)
        deleteQuietly(lockFile)
        try {
            lock.release()
        } catch (e: IOException) {
        } finally {
            closeQuietly(channel)
        }
    }

    companion object {
        /** The start of every name this loader creates in the temporary directory. */
        const val PREFIX = "userstore-native"

        /** A legacy folder (one per JVM, before lock files) is removed only when this old, see [removeStale]. */
        val LEGACY_MIN_AGE: Duration = Duration.ofMinutes(10)

        /** `userstore-native-<pid>-<start>-<n>.<ext>`: groups 1 = the process, 2 = the copy's stem, 3 = ext. */
        private val COPY_NAME = Regex("""^($PREFIX-(\d+-\d+)-\d+)\.(lck|so|dylib|dll)$""")

        /** The folders of the loader before lock files: `Files.createTempDirectory("userstore-native")`. */
        private val LEGACY_NAME = Regex("""^$PREFIX\d+$""")

        /** This process, as the names of its copies spell it: `<pid>-<start in ms>` (start 0 if unknown). */
        val processToken: String by lazy {
            val self = ProcessHandle.current()
            val start =
                self
                    .info()
                    .startInstant()
                    .map(Instant::toEpochMilli)
                    .orElse(0L)
            "${self.pid()}-$start"
        }

        /**
         * Extracts [content] into [dir] as a new copy with extension [extension] (`so`, `dylib`, `dll`), its
         * lock held; both files are deleted at a normal exit. Throws [IOException] (having removed what it
         * created) if the folder cannot hold it.
         */
        fun extract(
            dir: Path,
            extension: String,
            content: () -> InputStream,
        ): ExtractedLibrary {
            // Another JVM's removeStale can take a lock file between its creation and our tryLock (it looks like
            // a dead JVM's then) and delete it; seeing that (lock not taken, or file gone), start over with a
            // fresh name. Three attempts: a cleanup passes over a given name once.
            repeat(3) {
                val held = createLockFile(dir) ?: return@repeat
                val (lockFile, channel, lock) = held
                val library = lockFile.resolveSibling(lockFile.fileName.toString().removeSuffix(".lck") + ".$extension")
                // deleteOnExit runs in reverse order: the library goes first, then its lock file, so a copy
                // never exists without its lock file while its JVM lives.
                lockFile.toFile().deleteOnExit()
                library.toFile().deleteOnExit()
                val extracted = ExtractedLibrary(library, lockFile, channel, lock)
                try {
                    content().use { input ->
                        Files.newOutputStream(library, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).use {
                            input.copyTo(it)
                        }
                    }
                } catch (e: IOException) {
                    extracted.discard()
                    throw e
                } catch (e: RuntimeException) {
                    extracted.discard()
                    throw e
                }
                return extracted
            }
            throw IOException("could not create and lock a lock file in $dir (three attempts, each removed by another JVM)")
        }

        /** A new lock file in [dir], locked and still there; null if another JVM's cleanup took it first. */
        private fun createLockFile(dir: Path): Triple<Path, FileChannel, FileLock>? {
            // createTempFile: a fresh random name, created exclusively (O_EXCL), owner-only on POSIX.
            val lockFile = Files.createTempFile(dir, "$PREFIX-$processToken-", ".lck")
            val channel =
                try {
                    FileChannel.open(lockFile, StandardOpenOption.WRITE)
                } catch (e: NoSuchFileException) {
                    return null
                } catch (e: IOException) {
                    deleteQuietly(lockFile)
                    throw e
                }
            val lock =
                try {
                    channel.tryLock()
                } catch (e: IOException) {
                    closeQuietly(channel)
                    deleteQuietly(lockFile)
                    throw e
                }
            if (lock == null || !Files.exists(lockFile)) {
                // Held by a cleanup that deletes it, or already deleted by one: not ours to delete.
                closeQuietly(channel)
                return null
            }
            return Triple(lockFile, channel, lock)
        }

        /**
         * Deletes from [dir] the copies that no live JVM holds: each pair whose lock can be taken, each library
         * whose lock file is gone, and legacy `userstore-native<n>` folders (the loader before lock files: a
         * folder per JVM, left empty by a normal exit, with the library after a kill) that hold nothing but a
         * library and are older than [LEGACY_MIN_AGE] (those have no lock to ask; the age keeps off a legacy
         * JVM that is extracting right now, and deleting a loaded library's file is harmless on Linux and macOS
         * and refused on Windows). Copies of this process are skipped. Best effort: what cannot be deleted stays,
         * silently. Returns the names it deleted.
         */
        fun removeStale(
            dir: Path,
            now: Instant = Instant.now(),
        ): List<String> {
            val names =
                try {
                    Files.newDirectoryStream(dir, "$PREFIX*").use { entries -> entries.map { it.fileName.toString() } }
                } catch (e: IOException) {
                    return emptyList()
                } catch (e: DirectoryIteratorException) {
                    return emptyList()
                }
            val removed = mutableListOf<String>()
            val copies = mutableMapOf<String, MutableList<String>>()
            for (name in names) {
                val match = COPY_NAME.matchEntire(name)
                if (match != null) {
                    if (match.groupValues[2] != processToken) copies.getOrPut(match.groupValues[1]) { mutableListOf() } += name
                } else if (LEGACY_NAME.matches(name)) {
                    removeLegacyFolder(dir.resolve(name), now, removed)
                }
            }
            for ((stem, files) in copies) removeIfStale(dir, stem, files, removed)
            return removed
        }

        private fun removeIfStale(
            dir: Path,
            stem: String,
            files: List<String>,
            removed: MutableList<String>,
        ) {
            val lockFile = dir.resolve("$stem.lck")
            val libraries = files.filter { !it.endsWith(".lck") }
            val channel =
                try {
                    FileChannel.open(lockFile, StandardOpenOption.WRITE)
                } catch (e: NoSuchFileException) {
                    // No lock file: its JVM is gone (a live copy's lock file is created before the library and
                    // deleted after it); only the library can be left.
                    for (name in libraries) if (deleteQuietly(dir.resolve(name))) removed += name
                    return
                } catch (e: IOException) {
                    return // not ours to open (another user's, say): leave it
                }
            try {
                val lock =
                    try {
                        channel.tryLock()
                    } catch (e: OverlappingFileLockException) {
                        null
                    } catch (e: IOException) {
                        null
                    }
                if (lock == null) return // a live JVM holds it
                // Its JVM is dead: delete the library, then the lock file, while holding the lock.
                for (name in libraries) if (deleteQuietly(dir.resolve(name))) removed += name
                if (deleteQuietly(lockFile)) removed += lockFile.fileName.toString()
            } finally {
                closeQuietly(channel)
            }
        }

        private fun removeLegacyFolder(
            folder: Path,
            now: Instant,
            removed: MutableList<String>,
        ) {
            try {
                if (!Files.isDirectory(folder)) return
                if (Files
                        .getLastModifiedTime(folder)
                        .toInstant()
                        .plus(LEGACY_MIN_AGE)
                        .isAfter(now)
                ) {
                    return
                }
                val inside = Files.list(folder).use { entries -> entries.toList() }
                if (inside.any { it.fileName.toString() !in LIBRARY_FILE_NAMES }) return
                inside.forEach { Files.deleteIfExists(it) }
                Files.deleteIfExists(folder)
                removed += folder.fileName.toString()
            } catch (e: IOException) {
            } catch (e: RuntimeException) {
                // UncheckedIOException from Files.list's stream, SecurityException: leave the folder
            }
        }

        /** What a legacy folder may hold. */
        private val LIBRARY_FILE_NAMES = setOf("libuserstore.so", "libuserstore.dylib", "userstore.dll")

        private fun deleteQuietly(path: Path): Boolean =
            try {
                Files.deleteIfExists(path)
            } catch (e: IOException) {
                false
            }

        private fun closeQuietly(channel: FileChannel) {
            try {
                channel.close()
            } catch (e: IOException) {
            }
        }
    }
}
