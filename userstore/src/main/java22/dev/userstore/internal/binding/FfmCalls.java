package dev.userstore.internal.binding;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.userstore.NativeStoreException;
import dev.userstore.User;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * The FFM binding (java.lang.foreign, final in JDK 22): downcall handles to the C ABI of {@code src/ffi.rs},
 * over the same Rust core and handles as the JNI binding. Compiled for JDK 22 into {@code META-INF/versions/22}
 * of the jar, so JDK 17 to 21 never see it; {@link NativeBinding} makes it the default on JDK 22 and later.
 *
 * <p>The short reads that neither block for long nor call back ({@code get}, a {@code getMany} batch,
 * {@code getJson}, {@code size}, {@code findByName}) are critical downcalls, {@code Linker.Option.critical(true)}:
 * the thread stays in the Java state (no transition, so no fence on return) and Java arrays go straight to
 * Rust as heap segments, no copy and no scratch memory. Writes, imports, exports and snapshots may wait for a
 * lock or do I/O: ordinary downcalls on off-heap copies. Written in Java rather than Kotlin because
 * {@code MethodHandle.invokeExact} is signature-polymorphic, which Java compiles exactly.
 *
 * <p>Errors: a negative result is a code from {@code src/ffi.rs}; the message of the failure is fetched
 * right after, on the same thread, with {@code userstore_last_error}, and both become the exception the JNI
 * binding throws for the same failure.
 */
public final class FfmCalls implements NativeCalls {
    /** The C ABI this class speaks; this and every code and flag below come from {@link NativeAbi}. */
    private static final int ABI_VERSION = NativeAbi.ABI_VERSION;

    private static final int LATIN1 = NativeAbi.LATIN1;
    private static final int NAME_BUFFER_BYTES = NativeAbi.NAME_BUFFER_BYTES;
    /** The first guess for a name: most fit, a longer one costs a second call. */
    private static final int SMALL_NAME_BYTES = 32;
    /** The first guess for the room per getMany entry (length word and a typical name). */
    private static final int TYPICAL_ENTRY_BYTES = 24;

    private static final int MISSING = NativeAbi.MISSING;

    private static final Linker LINKER = Linker.nativeLinker();
    /** The library is loaded (System.load) by NativeLoader, in this class loader, before this class is. */
    private static final SymbolLookup LOOKUP = SymbolLookup.loaderLookup();

    private static final MethodHandle ABI = plain("userstore_abi_version", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle CREATE = plain("userstore_create", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle OPEN =
            plain("userstore_open", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle CLOSE = plain("userstore_close", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle DESTROY = plain("userstore_destroy", FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle IS_FREED =
            plain("userstore_is_freed", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle SIZE = critical("userstore_size", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PUT =
            plain("userstore_put", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle REMOVE =
            plain("userstore_remove", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle GET =
            critical("userstore_get", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle GET_MANY = critical(
            "userstore_get_many", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GET_JSON = critical(
            "userstore_get_json", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle FIND_BY_NAME = critical(
            "userstore_find_by_name",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle IMPORT_JSON =
            plain("userstore_import_json", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle EXPORT_JSON =
            plain("userstore_export_json", FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle FREE_BYTES =
            plain("userstore_free_bytes", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
    private static final MethodHandle SAVE =
            plain("userstore_save", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle LAST_ERROR =
            plain("userstore_last_error", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PENDING_FREES =
            plain("userstore_pending_frees", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle NOOP = critical("userstore_noop", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle HAS_TEST_HOOKS =
            plain("userstore_has_test_hooks", FunctionDescriptor.of(JAVA_INT));

    /**
     * The durable-store entries (docs/DURABILITY.md), plain downcalls (they block on I/O), looked up when first
     * used: a library without them still serves every other call.
     */
    private static final class Durable {
        static final MethodHandle OPEN_DURABLE = plain(
                "userstore_open_durable",
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
        static final MethodHandle CHECKPOINT =
                plain("userstore_checkpoint", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        static final MethodHandle LOG_STATS =
                plain("userstore_log_stats", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));

        private Durable() {}
    }

    /**
     * The production API's entries (issue 20: batches, pages, statistics), plain downcalls (a batch waits for locks
     * and the log, a page holds every shard's lock), looked up when first used like {@link Durable}.
     */
    private static final class Api {
        static final MethodHandle APPLY_BATCH = plain(
                "userstore_apply_batch",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG));
        static final MethodHandle SCAN = plain(
                "userstore_scan", FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS));
        static final MethodHandle STATS =
                plain("userstore_stats", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));

        private Api() {}
    }

    /** getMany's length words, read in native order straight from the entries array. */
    private static final VarHandle INT_AT =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());

    static {
        int abi;
        try {
            abi = (int) ABI.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (abi != ABI_VERSION) {
            throw new UnsatisfiedLinkError(
                    "userstore: the native library speaks FFM ABI " + abi + ", this jar needs " + ABI_VERSION);
        }
    }

    /** Made by {@link NativeBinding} (reflectively: this class exists only on JDK 22 and later). */
    public FfmCalls() {}

    @Override
    public String getName() {
        return "ffm";
    }

    @Override
    public long create() {
        long handle;
        try {
            handle = (long) CREATE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (handle == 0) {
            throw new NativeStoreException(lastError());
        }
        return handle;
    }

    @Override
    public long open(byte[] pathUtf8) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(JAVA_BYTE, pathUtf8);
            MemorySegment code = arena.allocate(JAVA_INT);
            long handle = (long) OPEN.invokeExact(path, (long) pathUtf8.length, code);
            if (handle == 0) {
                throw rethrow(error(code.get(JAVA_INT, 0)));
            }
            return handle;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public boolean close(long handle) {
        int closed;
        try {
            closed = (int) CLOSE.invokeExact(handle);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(closed) == 1;
    }

    @Override
    public void destroy(long handle) {
        try {
            DESTROY.invokeExact(handle);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public boolean isFreed(long handle) {
        try {
            return (int) IS_FREED.invokeExact(handle) == 1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public long size(long handle) {
        long size;
        try {
            size = (long) SIZE.invokeExact(handle);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (size < 0) {
            throw rethrow(error(size));
        }
        return size;
    }

    @Override
    public void put(long handle, long id, byte[] nameUtf8) {
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(JAVA_BYTE, nameUtf8);
            result = (int) PUT.invokeExact(handle, id, name, nameUtf8.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result);
    }

    @Override
    public User get(long handle, long id) {
        byte[] out = new byte[SMALL_NAME_BYTES];
        int word = get(handle, id, out);
        if (word == MISSING) {
            return null;
        }
        if ((word & (LATIN1 - 1)) > out.length) {
            out = new byte[NAME_BUFFER_BYTES];
            word = get(handle, id, out);
            if (word == MISSING) {
                return null;
            }
        }
        return new User(id, decode(out, 0, word));
    }

    private static int get(long handle, long id, byte[] out) {
        int word;
        try {
            word = (int) GET.invokeExact(handle, id, MemorySegment.ofArray(out), out.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (word < MISSING) {
            throw rethrow(error(word));
        }
        return word;
    }

    @Override
    public void getMany(long handle, long[] ids, int from, int count, List<User> result) {
        MemorySegment idSegment =
                MemorySegment.ofArray(ids).asSlice((long) from * Long.BYTES, (long) count * Long.BYTES);
        byte[] out = new byte[count * TYPICAL_ENTRY_BYTES + 64];
        int needed;
        while (true) {
            try {
                needed = (int) GET_MANY.invokeExact(handle, idSegment, count, MemorySegment.ofArray(out), out.length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (needed < 0) {
                throw rethrow(error(needed));
            }
            if (needed <= out.length) {
                break;
            }
            out = new byte[needed];
        }
        int at = 0;
        for (int i = 0; i < count; i++) {
            int word = (int) INT_AT.get(out, at);
            at += Integer.BYTES;
            if (word < 0) {
                result.add(null);
            } else {
                result.add(new User(ids[from + i], decode(out, at, word)));
                at += word & (LATIN1 - 1);
            }
        }
    }

    @Override
    public boolean remove(long handle, long id) {
        int removed;
        try {
            removed = (int) REMOVE.invokeExact(handle, id);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(removed) == 1;
    }

    @Override
    public long[] findByName(long handle, byte[] nameUtf8) {
        long[] out = new long[16];
        while (true) {
            long found;
            try {
                found = (long) FIND_BY_NAME.invokeExact(
                        handle, MemorySegment.ofArray(nameUtf8), nameUtf8.length, MemorySegment.ofArray(out), out.length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (found < 0) {
                throw rethrow(error(found));
            }
            if (found <= out.length) {
                return Arrays.copyOf(out, (int) found);
            }
            out = new long[Math.toIntExact(found)];
        }
    }

    @Override
    public byte[] getJson(long handle, long id) {
        byte[] out = new byte[128];
        while (true) {
            int length;
            try {
                length = (int) GET_JSON.invokeExact(handle, id, MemorySegment.ofArray(out), out.length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (length == MISSING) {
                return null;
            }
            if (length < 0) {
                throw rethrow(error(length));
            }
            if (length <= out.length) {
                return length == out.length ? out : Arrays.copyOf(out, length);
            }
            out = new byte[length];
        }
    }

    @Override
    public int importJson(long handle, byte[] json) {
        long count;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment copy = arena.allocateFrom(JAVA_BYTE, json);
            count = (long) IMPORT_JSON.invokeExact(handle, copy, (long) json.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (count < 0) {
            throw rethrow(error(count));
        }
        return (int) Math.min(count, Integer.MAX_VALUE);
    }

    @Override
    public byte[] exportJson(long handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocate(JAVA_LONG);
            MemorySegment json = (MemorySegment) EXPORT_JSON.invokeExact(handle, length);
            return take(json, length.get(JAVA_LONG, 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The {@code n} bytes the library allocated at {@code bytes} (an export or a scan page), copied into a Java array
     * and then freed by the library; a negative {@code n} is the call's error code (nothing was allocated).
     */
    private static byte[] take(MemorySegment bytes, long n) throws Throwable {
        if (n < 0) {
            throw rethrow(error(n));
        }
        try {
            if (n > Integer.MAX_VALUE - 8) {
                throw new NativeStoreException("result of " + n + " bytes is too large for a Java array");
            }
            return bytes.reinterpret(n).toArray(JAVA_BYTE);
        } finally {
            FREE_BYTES.invokeExact(bytes, n);
        }
    }

    @Override
    public void save(long handle, byte[] pathUtf8) throws IOException {
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(JAVA_BYTE, pathUtf8);
            result = (int) SAVE.invokeExact(handle, path, (long) pathUtf8.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result);
    }

    @Override
    public long openDurable(byte[] dirUtf8, int sync, long checkpointLogBytes) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dir = arena.allocateFrom(JAVA_BYTE, dirUtf8);
            MemorySegment code = arena.allocate(JAVA_INT);
            long handle = (long) Durable.OPEN_DURABLE.invokeExact(
                    dir, (long) dirUtf8.length, sync, checkpointLogBytes, code);
            if (handle == 0) {
                throw rethrow(error(code.get(JAVA_INT, 0)));
            }
            return handle;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void checkpoint(long handle) throws IOException {
        int result;
        try {
            result = (int) Durable.CHECKPOINT.invokeExact(handle);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result);
    }

    @Override
    public long[] logStats(long handle) {
        int result;
        long[] stats = new long[4];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG, NativeAbi.LOG_STATS_FIELDS);
            result = (int) Durable.LOG_STATS.invokeExact(handle, out);
            if (result == 1) {
                MemorySegment.copy(out, JAVA_LONG, 0, stats, 0, NativeAbi.LOG_STATS_FIELDS);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result) == 1 ? stats : null;
    }

    @Override
    public int applyBatch(long handle, byte[] puts, long[] removes) {
        long removed;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment wire = arena.allocateFrom(JAVA_BYTE, puts);
            MemorySegment ids = arena.allocateFrom(JAVA_LONG, removes);
            removed = (long) Api.APPLY_BATCH.invokeExact(handle, wire, (long) puts.length, ids, (long) removes.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (removed < 0) {
            throw rethrow(error(removed));
        }
        return (int) removed;
    }

    @Override
    public byte[] scan(long handle, long fromId, int limit) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocate(JAVA_LONG);
            MemorySegment page = (MemorySegment) Api.SCAN.invokeExact(handle, fromId, limit, length);
            long n = length.get(JAVA_LONG, 0);
            return n == 0 ? new byte[0] : take(page, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public long[] stats(long handle) {
        int result;
        long[] stats = new long[NativeAbi.STATS_FIELDS];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG, NativeAbi.STATS_FIELDS);
            result = (int) Api.STATS.invokeExact(handle, out);
            if (result == 0) {
                MemorySegment.copy(out, JAVA_LONG, 0, stats, 0, NativeAbi.STATS_FIELDS);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result);
        return stats;
    }

    @Override
    public boolean hasTestHooks() {
        try {
            return (int) HAS_TEST_HOOKS.invokeExact() == 1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void panicForTest(byte[] message) {
        MethodHandle panic = LOOKUP.find("userstore_panic_for_test")
                .map(symbol -> LINKER.downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)))
                .orElseThrow(() -> new UnsatisfiedLinkError("userstore_panic_for_test: not a test-hooks build"));
        int result;
        try (Arena arena = Arena.ofConfined()) {
            result = (int) panic.invokeExact(arena.allocateFrom(JAVA_BYTE, message), message.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result);
    }

    @Override
    public long pendingFrees() {
        try {
            return (long) PENDING_FREES.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public long noop(long value) {
        try {
            return (long) NOOP.invokeExact(value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The name whose length word is {@code word}, its bytes at {@code at}: Latin-1 (a plain copy) or UTF-8. */
    private static String decode(byte[] src, int at, int word) {
        int length = word & (LATIN1 - 1);
        return (word & LATIN1) != 0
                ? new String(src, at, length, StandardCharsets.ISO_8859_1)
                : new String(src, at, length, StandardCharsets.UTF_8);
    }

    /** {@code result} if it is not an error code; else throws the error's exception. */
    private static int check(int result) {
        if (result < 0) {
            throw rethrow(error(result));
        }
        return result;
    }

    /** The exception for error code {@code code}, with this thread's last error message ({@link NativeAbi#exception}). */
    private static Throwable error(long code) {
        return NativeAbi.exception((int) code, lastError());
    }

    /** This thread's last error message, from {@code userstore_last_error}. */
    private static String lastError() {
        try (Arena arena = Arena.ofConfined()) {
            int capacity = 1024;
            while (true) {
                MemorySegment out = arena.allocate(capacity);
                int length = (int) LAST_ERROR.invokeExact(out, capacity);
                if (length < 0) {
                    return "userstore: the error message could not be read";
                }
                if (length <= capacity) {
                    return new String(out.asSlice(0, length).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
                }
                capacity = length;
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static MethodHandle plain(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }

    /** A critical downcall: no thread-state transition, heap segments allowed. */
    private static MethodHandle critical(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor, Linker.Option.critical(true));
    }

    private static MemorySegment symbol(String name) {
        return LOOKUP.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("userstore: the native library has no symbol " + name));
    }

    /**
     * Throws {@code t} as it is, checked or not (the Kotlin interface declares IOException where it can
     * occur); the return type lets callers write {@code throw rethrow(t)}.
     */
    private static RuntimeException rethrow(Throwable t) {
        FfmCalls.<RuntimeException>sneaky(t);
        return new IllegalStateException("unreachable", t);
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneaky(Throwable t) throws E {
        throw (E) t;
    }
}
