package dev.userstore.service

import dev.userstore.postgres.AppliedTransaction
import dev.userstore.postgres.ReplicaListener
import io.micrometer.core.instrument.MeterRegistry
import io.micrometer.core.instrument.Timer
import java.time.Duration
import kotlin.math.roundToLong

/**
 * The bucket bounds, in seconds, of `userstore_replica_commit_delay_seconds`: 100 µs to 30 s, about three per decade.
 * The Rust service (`server/`) exports its replica's delays with the same list, so the two services' histograms can be
 * compared bucket by bucket and merged.
 */
val REPLICA_COMMIT_DELAY_BUCKETS_SECONDS: List<Double> =
    listOf(
        0.0001,
        0.0002,
        0.0003,
        0.0005,
        0.00075,
        0.001,
        0.0015,
        0.002,
        0.003,
        0.005,
        0.0075,
        0.01,
        0.015,
        0.02,
        0.03,
        0.05,
        0.075,
        0.1,
        0.15,
        0.2,
        0.3,
        0.5,
        0.75,
        1.0,
        2.0,
        5.0,
        10.0,
        30.0,
    )

/**
 * The replica's commit-to-apply delays as a Micrometer [Timer] named `userstore.replica.commit.delay` in [registry],
 * which Prometheus shows as the histogram `userstore_replica_commit_delay_seconds` (`_bucket{le=...}`, `_count`,
 * `_sum`, and Micrometer's `_max`): one observation per source transaction the replica applies
 * ([AppliedTransaction.commitDelay]: from the commit on PostgreSQL to the end of the apply here, including the
 * durable write of a `--data-dir` store). The buckets are [REPLICA_COMMIT_DELAY_BUCKETS_SECONDS] and no others
 * (service-level objectives, no percentile histogram), so p50/p99 come from `histogram_quantile` over them.
 *
 * Give it to the replica: `ReplicaOptions(listener = ReplicaCommitDelayTimer(registry))`; it runs on the replica's
 * thread and only records a number.
 */
class ReplicaCommitDelayTimer(
    registry: MeterRegistry,
) : ReplicaListener {
    /** The timer the delays are recorded in. */
    val timer: Timer =
        Timer
            .builder(NAME)
            .description("Commit-to-apply delay of each transaction the replica applied (server commit time to apply end here)")
            .serviceLevelObjectives(*REPLICA_COMMIT_DELAY_BUCKETS_SECONDS.map { Duration.ofNanos((it * 1e9).roundToLong()) }.toTypedArray())
            .register(registry)

    override fun applied(tx: AppliedTransaction) = timer.record(tx.commitDelay)

    companion object {
        /** The Micrometer name; Prometheus: `userstore_replica_commit_delay_seconds`. */
        const val NAME = "userstore.replica.commit.delay"
    }
}
