package dev.userstore.demo

import dev.userstore.demo.format.fmt as formatFmt
import dev.userstore.demo.measure.median as measureMedian

// A temporary bridge, to be deleted when LoadTestSummary.kt and LoadTestSummaryTest.kt move into their
// package (issue 20): they are being edited on another branch, so this split leaves them untouched in
// dev.userstore.demo, where they still find these names without an import.

internal typealias ServiceFigures = dev.userstore.demo.verdict.ServiceFigures
internal typealias Services = dev.userstore.demo.verdict.Services
internal typealias ServiceVerdicts = dev.userstore.demo.verdict.ServiceVerdicts
internal typealias Outcome = dev.userstore.demo.verdict.Outcome

/** [dev.userstore.demo.format.fmt], for LoadTestSummary.kt. */
internal fun fmt(
    pattern: String,
    vararg args: Any?,
): String = formatFmt(pattern, *args)

/** [dev.userstore.demo.measure.median], for LoadTestSummaryTest.kt. */
internal fun median(values: List<Double>): Double = measureMedian(values)
