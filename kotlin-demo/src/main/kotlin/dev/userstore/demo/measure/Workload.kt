package dev.userstore.demo.measure

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.User
import dev.userstore.UserStore
import java.util.SplittableRandom

/** How many lookup ids are pre-generated; the lookup loops cycle through them. A power of two. */
private const val LOOKUP_IDS = 1 shl 20

/** Every [SPECIAL_NAME_EVERY]th user gets a non-ASCII name. */
private const val SPECIAL_NAME_EVERY = 8L

/** Non-ASCII name stems: Latin-1, CJK, emoji (outside the BMP) and a combining mark. */
private val SPECIAL_STEMS = listOf("usér", "ユーザー", "😀-user", "Zoe\u0308", "пользователь", "🦀🐘")

/** The two stores, and how to make each one. */
enum class StoreKind(
    /** Short name used in the table, the progress lines and the JSON. */
    val label: String,
) {
    NATIVE("native"),

    /** The Rust store through JNI, beside [NATIVE] when that one runs over FFM (JDK 22+). */
    NATIVE_JNI("native-jni"),
    KOTLIN("kotlin"),
    ;

    /** A new, empty store of this kind; a native library that cannot load becomes a plain error. */
    internal fun create(): UserStore =
        try {
            when (this) {
                NATIVE -> NativeUserStore()
                NATIVE_JNI -> NativeUserStore.withBinding("jni")
                KOTLIN -> KotlinUserStore()
            }
        } catch (e: LinkageError) {
            throw com.github.ajalt.clikt.core.CliktError(
                "cannot create the $label store ($e); try --store ${if (this == KOTLIN) "native" else "kotlin"}",
            )
        }
}

/** The name of the user with [id]: `user-<id>`, and for every eighth id a non-ASCII one. */
internal fun nameFor(id: Long): String =
    if (id % SPECIAL_NAME_EVERY == SPECIAL_NAME_EVERY - 1) {
        "${SPECIAL_STEMS[((id / SPECIAL_NAME_EVERY) % SPECIAL_STEMS.size).toInt()]}-$id"
    } else {
        "user-$id"
    }

/**
 * The data both stores see, derived only from the user count and the seed: ids `0 until userCount`
 * loaded in a shuffled order, and one sequence of lookup ids (all present) that every lookup phase
 * of every store cycles through.
 */
internal class Workload(
    val userCount: Int,
    seed: Long,
) {
    /** The order in which ids are put: a permutation of `0 until userCount`. */
    private val loadOrder: IntArray = shuffled(userCount, SplittableRandom(seed))

    /** Lookup ids, uniform over the loaded ids; the size is a power of two. */
    val lookupIds: LongArray =
        SplittableRandom(seed xor 0x5DEECE66DL).let { random ->
            LongArray(LOOKUP_IDS) { random.nextLong(userCount.toLong()) }
        }

    /** Fresh [User] objects for the first [count] ids of the load order (fresh so no store shares them). */
    fun users(count: Int = userCount): Array<User> =
        Array(count) { index ->
            val id = loadOrder[index].toLong()
            User(id, nameFor(id))
        }

    /** [lookupIds] cut into arrays of [size] ids, for getMany. */
    fun batches(size: Int): List<LongArray> = (0 until lookupIds.size / size).map { lookupIds.copyOfRange(it * size, (it + 1) * size) }

    private companion object {
        /** A Fisher-Yates shuffle of `0 until n`. */
        fun shuffled(
            n: Int,
            random: SplittableRandom,
        ): IntArray {
            val order = IntArray(n) { it }
            for (i in n - 1 downTo 1) {
                val j = random.nextInt(i + 1)
                val swap = order[i]
                order[i] = order[j]
                order[j] = swap
            }
            return order
        }
    }
}
