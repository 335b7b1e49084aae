package dev.userstore.internal.binding

import dev.userstore.CorruptSnapshotException
import dev.userstore.DurabilityException
import dev.userstore.InvalidJsonException
import dev.userstore.InvalidUserException
import dev.userstore.NativeStoreException
import dev.userstore.StoreClosedException
import dev.userstore.StoreLockedException
import dev.userstore.Sync
import dev.userstore.testing.RepoFiles
import org.junit.jupiter.api.Test
import java.io.IOException
import java.lang.reflect.Modifier
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** Holds [NativeAbi], the JVM's copy of the native ABI, to its one source, `src/abi.rs`. */
class NativeAbiTest {
    /** `pub const NAME: i32 = VALUE;` with VALUE a decimal or `1 << n`, as src/abi.rs promises. */
    private val constant = Regex("""^pub const ([A-Z0-9_]+): i32 = (-?\d+|1 << \d+);""", RegexOption.MULTILINE)

    private fun rustConstants(): Map<String, Int> {
        val text = Files.readString(source())
        return constant.findAll(text).associate { match ->
            val value = match.groupValues[2]
            match.groupValues[1] to
                if (value.startsWith("1 << ")) 1 shl value.removePrefix("1 << ").toInt() else value.toInt()
        }
    }

    private fun kotlinConstants(): Map<String, Int> =
        NativeAbi::class.java.declaredFields
            .filter { Modifier.isStatic(it.modifiers) && it.type == Int::class.javaPrimitiveType }
            .associate { it.name to it.getInt(null) }

    @Test
    fun `every constant of src abi rs is in NativeAbi with the same value, and nothing else`() {
        val rust = rustConstants()
        assertTrue(rust.size >= 15, "src/abi.rs should declare the codes and flags, found $rust")
        assertEquals(rust.toSortedMap(), kotlinConstants().toSortedMap())
    }

    @Test
    fun `every error code maps to the exception the contract names, with its message`() {
        val expected =
            mapOf(
                NativeAbi.ERR_CLOSED to StoreClosedException::class.java,
                NativeAbi.ERR_INVALID_USER to InvalidUserException::class.java,
                NativeAbi.ERR_INVALID_JSON to InvalidJsonException::class.java,
                NativeAbi.ERR_NO_SUCH_FILE to NoSuchFileException::class.java,
                NativeAbi.ERR_CORRUPT_SNAPSHOT to CorruptSnapshotException::class.java,
                NativeAbi.ERR_IO to IOException::class.java,
                NativeAbi.ERR_PANIC to NativeStoreException::class.java,
                NativeAbi.ERR_INTERNAL to NativeStoreException::class.java,
                NativeAbi.ERR_LOCKED to StoreLockedException::class.java,
                NativeAbi.ERR_LOG_IO to DurabilityException::class.java,
                NativeAbi.ERR_TOO_LARGE to IllegalArgumentException::class.java,
            )
        val codes = rustConstants().filterKeys { it.startsWith("ERR_") }.values.toSet()
        assertEquals<Set<Int>>(codes, expected.keys, "a code without an expected exception here, or the reverse")
        for ((code, type) in expected) {
            val e = NativeAbi.exception(code, "message $code")
            assertEquals<Class<*>>(type, e.javaClass, "code $code")
            assertEquals("message $code", e.message)
        }
    }

    @Test
    fun `sync codes follow the table, not the enum's order`() {
        assertEquals(
            listOf(NativeAbi.SYNC_ALWAYS, NativeAbi.SYNC_BATCH, NativeAbi.SYNC_NONE),
            listOf(Sync.ALWAYS, Sync.BATCH, Sync.NONE).map(NativeAbi::syncCode),
        )
    }

    /** src/abi.rs, found from the module folder the tests run in. */
    private fun source(): Path = RepoFiles.find("src/abi.rs")
}
