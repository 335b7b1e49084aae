package dev.userstore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Both stores used from Java exactly as a Java caller would: proves the API is Java-friendly. */
class JavaCallerTest {
    static Stream<Named<Supplier<UserStore>>> stores() {
        return Stream.of(
                Named.of("kotlin", KotlinUserStore::new),
                Named.of("native", NativeUserStore::new));
    }

    @ParameterizedTest
    @MethodSource("stores")
    void basicCallsFromJava(Supplier<UserStore> factory) {
        try (UserStore store = factory.get()) {
            store.put(new User(1L, "a"));
            store.put(new User(2L, "b"));
            store.put(new User(3L, "a"));
            assertEquals(3L, store.getSize());
            User one = store.get(1L);
            assertEquals(new User(1L, "a"), one);
            assertEquals(1L, one.getId());
            assertEquals("a", one.getName());
            assertNull(store.get(99L));

            List<User> many = store.getMany(new long[] {2L, 99L, 1L});
            assertEquals(Arrays.asList(new User(2L, "b"), null, new User(1L, "a")), many);

            assertEquals(Arrays.asList(new User(1L, "a"), new User(3L, "a")), store.findByName("a"));
            assertArrayEquals("{\"id\":2,\"name\":\"b\"}".getBytes(StandardCharsets.UTF_8), store.getJson(2L));
            assertTrue(store.remove(2L));
            assertFalse(store.remove(2L));

            int count = store.importJson("[{\"id\":5,\"name\":\"\\u00e9\"}]".getBytes(StandardCharsets.UTF_8));
            assertEquals(1, count);
            assertEquals(
                    "[{\"id\":1,\"name\":\"a\"},{\"id\":3,\"name\":\"a\"},{\"id\":5,\"name\":\"\u00e9\"}]",
                    new String(store.exportJson(), StandardCharsets.UTF_8));

            // Rejections are ordinary unchecked exceptions for a Java caller.
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> store.put(new User(-1L, "x")));
            assertTrue(bad instanceof InvalidUserException);
            assertThrows(InvalidJsonException.class, () -> store.importJson("nope".getBytes(StandardCharsets.UTF_8)));
            assertEquals(3L, store.getSize());
        }
    }

    @Test
    void concreteTypesWithTryWithResources() {
        UserStore escaped;
        try (NativeUserStore store = new NativeUserStore()) {
            store.put(new User(1L, "native"));
            assertEquals(1L, store.getSize());
            escaped = store;
        }
        UserStore closedNative = escaped;
        assertThrows(IllegalStateException.class, () -> closedNative.get(1L));

        try (KotlinUserStore store = new KotlinUserStore()) {
            store.put(new User(1L, "kotlin"));
            assertEquals(new User(1L, "kotlin"), store.get(1L));
            escaped = store;
        }
        UserStore closedKotlin = escaped;
        assertThrows(StoreClosedException.class, closedKotlin::getSize);
        closedKotlin.close(); // a second close is a no-op
    }

    @Test
    void durableStoresFromJava(@TempDir Path dir) throws IOException {
        try (KotlinUserStore store = KotlinUserStore.openDurable(dir.resolve("k"))) {
            store.put(new User(1L, "a"));
            store.checkpoint();
        }
        try (KotlinUserStore store = KotlinUserStore.openDurable(dir.resolve("k"), Sync.BATCH)) {
            assertEquals(1L, store.getSize());
        }
        try (NativeUserStore store =
                NativeUserStore.openDurable(dir.resolve("n"), Sync.NONE, Sync.DEFAULT_CHECKPOINT_LOG_BYTES)) {
            store.put(new User(2L, "b"));
            assertThrows(StoreLockedException.class, () -> KotlinUserStore.openDurable(dir.resolve("n")));
        }
        assertEquals(10L, Sync.BATCH_INTERVAL_MILLIS);
        assertThrows(IllegalArgumentException.class, () -> KotlinUserStore.openDurable(dir, Sync.ALWAYS, 0L));
    }
}
