package dev.userstore.internal

import dev.userstore.StoreLockedException
import java.io.Closeable
import java.io.IOException
import java.nio.channels.FileChannel
import java.nio.channels.FileLock
import java.nio.channels.OverlappingFileLockException
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardOpenOption
import java.util.concurrent.ConcurrentHashMap

/**
 * The JVM-wide registry of the data directories open in a durable store (docs/DURABILITY.md, "The lock"), by
 * real path. Both stores consult it before touching a directory: [dev.userstore.KotlinUserStore] before it
 * locks `LOCK`, [dev.userstore.NativeUserStore] before it calls the native side. A second open in this JVM is
 * refused here, before any file is opened: the JVM's lock on `LOCK` is a classic POSIX record lock, which the
 * kernel releases when *any* descriptor of the file is closed by the process, so the native side opening and
 * closing `LOCK` in the same process would otherwise drop a Kotlin store's lock.
 */
internal object OpenDirectories {
    private val open = ConcurrentHashMap<Path, Registration>()

    /** The name of the lock file in a data directory. */
    const val LOCK_FILE = "LOCK"

    /**
     * Creates [dir] (and its parents) if missing and registers it; [StoreLockedException] naming `DIR/LOCK` if
     * a store of this JVM has it open. Release the registration with [Registration.release].
     */
    fun register(dir: Path): Registration {
        try {
            Files.createDirectories(dir)
        } catch (e: IOException) {
            throw IOException("data directory $dir: cannot create: $e", e)
        }
        val real =
            try {
                dir.toRealPath()
            } catch (e: IOException) {
                throw IOException("data directory $dir: cannot resolve: $e", e)
            }
        val registration = Registration(real)
        if (open.putIfAbsent(real, registration) != null) throw locked(dir)
        return registration
    }

    /** The exception for a directory that another store has open. */
    fun locked(dir: Path): StoreLockedException =
        StoreLockedException(
            "data directory $dir is locked by another store (${dir.resolve(LOCK_FILE)})",
        )

    /** One store's entry in the registry; [release] removes it (only it: idempotent, never another store's entry). */
    class Registration internal constructor(
        private val realDir: Path,
    ) {
        fun release() {
            open.remove(realDir, this)
        }
    }
}

/**
 * A data directory held by this JVM: its registry entry ([OpenDirectories]) and an exclusive lock on its `LOCK`
 * file (`FileChannel.tryLock`, a classic `F_SETLK` record lock, which conflicts with the Rust core's
 * open-file-description lock). [close] releases both.
 */
internal class DirectoryLock private constructor(
    private val registration: OpenDirectories.Registration,
    private val channel: FileChannel,
    private val lock: FileLock,
) : Closeable {
    override fun close() {
        try {
            try {
                lock.release()
            } finally {
                channel.close()
            }
        } catch (_: IOException) {
            // Closing the descriptor releases the lock whatever release() said.
        } finally {
            registration.release()
        }
    }

    companion object {
        /** Creates [dir] if missing and locks it; [StoreLockedException] if another store has it open. */
        fun acquire(dir: Path): DirectoryLock {
            val registration = OpenDirectories.register(dir)
            try {
                val path = dir.resolve(OpenDirectories.LOCK_FILE)
                val channel =
                    try {
                        FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    } catch (e: IOException) {
                        throw IOException("lock file $path: cannot open: $e", e)
                    }
                val lock =
                    try {
                        channel.tryLock()
                    } catch (_: OverlappingFileLockException) {
                        null
                    } catch (e: IOException) {
                        channel.close()
                        throw IOException("lock file $path: cannot lock: $e", e)
                    }
                if (lock == null) {
                    channel.close()
                    throw OpenDirectories.locked(dir)
                }
                return DirectoryLock(registration, channel, lock)
            } catch (t: Throwable) {
                registration.release()
                throw t
            }
        }
    }
}
