package dev.userstore.demo.measure

import kotlin.concurrent.thread

/** How often the progress line is refreshed, in milliseconds. */
private const val TICK_MILLIS = 1000L

/**
 * Progress on stderr for phases longer than a second: a ticker thread prints the current phase's
 * status once a second. On a terminal the line is rewritten in place; elsewhere each update is a line.
 *
 * @param write prints text on stderr; the flag says whether to end the line
 * @param inPlace rewrite one line with carriage returns (for terminals)
 */
internal class Progress(
    private val write: (text: String, newline: Boolean) -> Unit,
    private val inPlace: Boolean = System.console() != null,
) : AutoCloseable {
    private val lock = Any()

    @Volatile private var status: (() -> String)? = null

    @Volatile private var phaseStart = 0L

    private var shownLength = 0

    private val ticker =
        thread(isDaemon = true, name = "progress") {
            try {
                while (true) {
                    Thread.sleep(TICK_MILLIS)
                    tick()
                }
            } catch (e: InterruptedException) {
                // closed
            }
        }

    /** Runs [block] as a phase whose progress text is [status], asked for once a second. */
    fun <T> phase(
        status: () -> String,
        block: () -> T,
    ): T {
        phaseStart = System.nanoTime()
        this.status = status
        try {
            return block()
        } finally {
            this.status = null
            clear()
        }
    }

    /** Prints a finished step as its own line. */
    fun log(text: String) =
        synchronized(lock) {
            clearLocked()
            write(text, true)
        }

    override fun close() {
        ticker.interrupt()
        ticker.join()
        clear()
    }

    private fun tick() {
        val current = status ?: return
        if (System.nanoTime() - phaseStart < TICK_MILLIS * 1_000_000) return
        val text = current()
        synchronized(lock) {
            if (status == null) return
            if (inPlace) {
                write("\r" + text.padEnd(shownLength), false)
                shownLength = text.length
            } else {
                write(text, true)
            }
        }
    }

    private fun clear() = synchronized(lock) { clearLocked() }

    private fun clearLocked() {
        if (shownLength > 0) write("\r" + " ".repeat(shownLength) + "\r", false)
        shownLength = 0
    }
}
