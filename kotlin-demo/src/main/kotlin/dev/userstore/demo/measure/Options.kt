package dev.userstore.demo.measure

import java.nio.file.Path

/** Largest `--users`: the demo keeps all users of a load in one array, and both stores in one heap. */
internal const val MAX_USERS = 20_000_000

/** Nanoseconds in a second. */
internal const val NANOS_PER_SECOND = 1_000_000_000L

/** Which stores `--store` selects. */
enum class StoreChoice(
    internal val kinds: List<StoreKind>,
) {
    NATIVE(listOf(StoreKind.NATIVE)),
    KOTLIN(listOf(StoreKind.KOTLIN)),
    BOTH(listOf(StoreKind.NATIVE, StoreKind.KOTLIN)),
}

/** Everything `compare` was asked to do, validated. */
internal data class CompareOptions(
    val users: Int,
    val durationSeconds: Double,
    val warmupSeconds: Double,
    val threads: Int,
    val seed: Long,
    val stores: List<StoreKind>,
    val batchSize: Int,
    val json: Path?,
) {
    /** `--duration` in nanoseconds. */
    val durationNanos: Long get() = (durationSeconds * NANOS_PER_SECOND).toLong()

    /** `--warmup` in nanoseconds. */
    val warmupNanos: Long get() = (warmupSeconds * NANOS_PER_SECOND).toLong()
}
