package dev.userstore.demo.report

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Reading `./gradlew benchShapes`' summary.csv for the report: which rows are shown, and what is refused. */
class ShapesTest {
    private val header = "jdk,binding,shape,source,op,unit,native,kotlin,ratio,spread,goal,met"

    private fun summary(
        dir: Path,
        vararg rows: String,
    ): Path = dir.resolve("summary.csv").also { Files.writeString(it, (listOf(header) + rows).joinToString("\n") + "\n") }

    @Test
    fun `only the running JDK's and binding's rows are shown when there are any`(
        @TempDir dir: Path,
    ) {
        val path =
            summary(
                dir,
                "17,jni,shared call site,CallerLoop,get,ns/get,150.5,120.25,1.25,1.10..1.40,<= 1.3,True",
                "25,ffm,shared call site,CallerLoop,get,ns/get,300,118,2.54,2.40..2.70,<= 1.0,False",
                "25,ffm,one store per fork,JMH,get,ns/op,330,54.5,6.06,± 109.0 / ± 4.4,<= 2.0,False",
                "25,ffm,machine,CallerLoop,floor (30 MiB chain),ns/load,95,,,90.0..99.0,,",
            )
        val mine = ShapesSummary.find(path, jdk = 25, binding = "ffm")!!
        assertTrue(mine.sameJvm)
        assertEquals(listOf("shared call site", "one store per fork"), mine.rows.map { it["shape"] }, "the floor row is not an op")
        assertEquals(listOf("JDK 25 ffm", "shared call site", "CallerLoop", "get", "ns/get", "300.0", "118.0", "2.54"), mine.cells()[0])
        val other = ShapesSummary.find(path, jdk = 21, binding = "jni")!!
        assertFalse(other.sameJvm)
        assertEquals(3, other.rows.size, "no row of this JVM: all of them, labelled")
    }

    @Test
    fun `no file, or another file, gives no section`(
        @TempDir dir: Path,
    ) {
        assertNull(ShapesSummary.find(dir.resolve("summary.csv"), 25, "ffm"))
        val other = dir.resolve("other.csv")
        Files.writeString(other, "a,b,c\n1,2,3\n")
        assertNull(ShapesSummary.find(other, 25, "ffm"))
    }

    @Test
    fun `quoted CSV fields keep their commas and quotes`() {
        assertEquals(listOf("a", "b,c", "say \"x\"", ""), ShapesSummary.splitCsv("a,\"b,c\",\"say \"\"x\"\"\","))
    }
}
