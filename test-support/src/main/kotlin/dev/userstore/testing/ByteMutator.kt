package dev.userstore.testing

import kotlin.random.Random

/**
 * Byte-level mutations of a (usually well-formed) input, as a coverage-less fuzzer makes them: bit flips,
 * JSON-significant and invalid UTF-8 bytes inserted or written over, deletions, truncations and repeated
 * slices. Used by the differential tests and the boundary fuzzing of both stores.
 */
object ByteMutator {
    /** [input] with 1 to [maxEdits] random edits; [input] itself is not changed. */
    fun mutate(
        random: Random,
        input: ByteArray,
        maxEdits: Int = 4,
    ): ByteArray {
        val bytes = input.toMutableList()
        repeat(1 + random.nextInt(maxEdits)) {
            val at = random.nextInt(bytes.size + 1)
            when (random.nextInt(7)) {
                0 -> {
                    if (at < bytes.size) bytes[at] = (bytes[at].toInt() xor (1 shl random.nextInt(8))).toByte()
                }

                1 -> {
                    bytes.add(at, RandomJson.INTERESTING.random(random))
                }

                2 -> {
                    if (at < bytes.size) bytes[at] = RandomJson.INTERESTING.random(random)
                }

                3 -> {
                    if (at < bytes.size) bytes.removeAt(at)
                }

                4 -> {
                    bytes.addAll(at, RandomJson.BAD_UTF8.random(random).toList())
                }

                5 -> {
                    if (random.nextInt(4) == 0) bytes.subList(at, bytes.size).clear()
                }

                else -> {
                    val from = random.nextInt(bytes.size + 1)
                    bytes.addAll(at, bytes.subList(from, minOf(bytes.size, from + 1 + random.nextInt(24))).toList())
                }
            }
        }
        return bytes.toByteArray()
    }
}
