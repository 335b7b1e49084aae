package dev.userstore.demo.format

import java.util.Locale

/** Ratios below this get three decimals instead of two. */
private const val SMALL_RATIO = 0.1

/** Formats with [Locale.ROOT], so the output does not depend on the machine's locale. */
internal fun fmt(
    pattern: String,
    vararg args: Any?,
): String = String.format(Locale.ROOT, pattern, *args)

/** A value with one decimal (a tiny negative one shows as 0.0, not -0.0). */
internal fun oneDecimal(x: Double): String = fmt("%,.1f", x).let { if (it == "-0.0") "0.0" else it }

/** [n] and [noun], in the plural unless [n] is 1: `1 round`, `3 rounds`. */
internal fun plural(
    n: Long,
    noun: String,
): String = if (n == 1L) "$n $noun" else "$n ${noun}s"

/** [plural] for an Int. */
internal fun plural(
    n: Int,
    noun: String,
): String = plural(n.toLong(), noun)

/** The ratio [a]/[b], e.g. `0.42x`; `n/a` unless both are positive. */
internal fun ratio(
    a: Double,
    b: Double,
): String {
    if (!(a > 0 && b > 0)) return "n/a"
    val x = a / b
    return if (x < SMALL_RATIO) fmt("%.3fx", x) else fmt("%.2fx", x)
}
