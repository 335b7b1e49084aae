package dev.userstore.demo.verdict

import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path

/** Where load-test summaries are found: this build's own run, else the runs recorded in the repository. */
internal object RecordedRuns {
    /** Where recorded runs are kept, from the project root: one folder per run, `<date>-<name>`, each with a summary.json. */
    val FOLDER: Path = Path.of("docs", "results")

    /**
     * The summary at [build] if [read] accepts it (`recorded = false`); else, of the `summary.json` files in the
     * folders of [FOLDER] whose name contains [name] (both under [root]), the one [read] accepts with the latest
     * [date]; null when there is none.
     */
    fun <T : Any> latest(
        root: Path,
        build: Path,
        name: String,
        read: (Path, Boolean) -> T?,
        date: (T) -> String,
    ): T? {
        read(root.resolve(build), false)?.let { return it }
        val recorded = root.resolve(FOLDER)
        if (!Files.isDirectory(recorded)) return null
        val candidates =
            try {
                Files.list(recorded).use { dirs ->
                    dirs
                        .filter { it.fileName.toString().contains(name) }
                        .map { it.resolve("summary.json") }
                        .filter { Files.isRegularFile(it) }
                        .toList()
                }
            } catch (e: IOException) {
                return null
            }
        return candidates.mapNotNull { read(it, true) }.maxByOrNull(date)
    }
}
