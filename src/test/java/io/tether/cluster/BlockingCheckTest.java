package io.tether.cluster;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node stops by closing Vert.x while its periodic Hazelcast checks may be running. The close must
 * interrupt such a check and wait for it: a check left running would finish into closed event loops,
 * its result would be lost, and its worker thread would die of a {@code RejectedExecutionException}
 * after the node had stopped.
 */
class BlockingCheckTest {

  @Test
  void closingVertxInterruptsARunningCheckAndWaitsForIt() throws Exception {
    Vertx vertx = Vertx.vertx();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    AtomicBoolean ended = new AtomicBoolean();
    AtomicReference<String> delivered = new AtomicReference<>();
    List<Boolean> refused = new CopyOnWriteArrayList<>();
    vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        BlockingCheck check = new BlockingCheck(context);
        check.run(() -> {
          started.countDown();
          // Like a Hazelcast call that does not give up at once when interrupted.
          while (true) {
            try {
              release.await();
              break;
            } catch (InterruptedException e) {
              interrupted.set(true);
            }
          }
          ended.set(true);
          return "answer";
        }, result -> delivered.set(result.succeeded() ? result.result() : result.cause().toString()));
        // One at a time: a second check while the first runs does not start.
        refused.add(check.run(() -> "second", result -> delivered.set("second")));
        assertThat(check.running()).isTrue();
        return Future.succeededFuture();
      }
    }).await(10, TimeUnit.SECONDS);
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(refused).containsExactly(false);

    AtomicBoolean endedBeforeClosed = new AtomicBoolean();
    Future<Void> closed = vertx.close().onComplete(ar -> endedBeforeClosed.set(ended.get()));
    await().atMost(Duration.ofSeconds(10)).untilTrue(interrupted);
    assertThat(closed.isComplete()).as("Vert.x closed while the check still ran").isFalse();

    release.countDown();
    closed.await(10, TimeUnit.SECONDS);
    assertThat(endedBeforeClosed).as("the check had ended when Vert.x completed its close").isTrue();
    assertThat(delivered.get()).as("the check's result, delivered on its verticle's context").isEqualTo("answer");
  }
}
