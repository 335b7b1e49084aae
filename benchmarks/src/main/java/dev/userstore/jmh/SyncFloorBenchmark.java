package dev.userstore.jmh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * The floor under {@link DurableBenchmark}'s {@code Sync.ALWAYS} figures on this machine, in the same run: one
 * thread appends a 40-byte record (about one put's log record) to a file and syncs it with {@code
 * FileChannel.force(false)} ({@code fdatasync} on Linux), over and over. One writer under {@code Sync.ALWAYS} cannot
 * beat 1 / this latency; a machine whose disk is busy shows it here first. Same {@code dir} parameter as {@link
 * DurableBenchmark}; the file is deleted after the trial.
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
@Threads(1)
public class SyncFloorBenchmark {
    /** As {@link DurableBenchmark#dir}. */
    @Param({"tmpdir"})
    public String dir;

    private Path file;
    private FileChannel channel;
    private final ByteBuffer record = ByteBuffer.allocateDirect(40);

    @Setup(Level.Trial)
    public void open() throws IOException {
        Path parent = dir.equals("tmpdir") ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(dir);
        Files.createDirectories(parent);
        file = Files.createTempFile(parent, "userstore-sync-floor-", ".bin");
        channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        System.out.println("# sync floor file: " + file + " (" + Files.getFileStore(file).type() + ")");
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        channel.close();
        Files.delete(file);
    }

    private void appendAndSync() throws IOException {
        record.clear();
        while (record.hasRemaining()) {
            channel.write(record);
        }
        channel.force(false);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void sync() throws IOException {
        appendAndSync();
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void syncLatency() throws IOException {
        appendAndSync();
    }
}
