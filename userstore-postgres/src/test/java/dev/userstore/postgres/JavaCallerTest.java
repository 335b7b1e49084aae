package dev.userstore.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.userstore.KotlinUserStore;
import dev.userstore.UserStore;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The API as a Java caller sees it: static start with and without options, getters, try-with-resources. */
class JavaCallerTest {
  @Test
  void startFromJava() {
    ReplicaOptions options =
        new ReplicaOptions()
            .withBackoff(Duration.ofMillis(20), Duration.ofMillis(50))
            .withPositionStore(PositionStore.inMemory());
    assertNull(options.getSlotName());
    assertEquals(ReplicaOptions.DEFAULT_PUBLICATION, options.getPublication());
    try (UserStore store = new KotlinUserStore();
        PostgresReplica replica = PostgresReplica.start(store, "jdbc:postgresql://127.0.0.1:1/db", options)) {
      assertFalse(replica.awaitCaughtUp(Duration.ofMillis(100)));
      assertFalse(replica.isConnected());
      assertEquals(0L, replica.getAppliedLsn());
      ReplicaLag lag = replica.lag();
      assertNull(lag.getBytes());
    }
    assertThrows(IllegalArgumentException.class, () -> PostgresReplica.start(new KotlinUserStore(), "http://x"));
    assertEquals("0/16B3748", PostgresReplica.formatLsn(0x16B3748L));
  }

  @Test
  void listenerFromJava() {
    AtomicLong delays = new AtomicLong();
    ReplicaOptions options =
        new ReplicaOptions().withListener(tx -> delays.addAndGet(tx.getCommitDelay().toNanos()));
    assertEquals(options.getListener(), options.withSlotName("api_1").getListener());
    assertNull(options.withListener(null).getListener());
    assertNull(new ReplicaOptions().getListener());
  }
}
