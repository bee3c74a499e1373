package io.tether.cluster.routing;


import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the router tells a request that an owner never read (it unregistered with the request still
 * queued) from one that timed out: the first is safe to send again, the second may have been applied.
 * Pins the Vert.x behaviour {@link StreamRouter#discarded} relies on.
 */
class DiscardedRequestTest {

  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aRequestQueuedInAConsumerThatUnregistersIsReportedAsDiscarded() throws Exception {
    MessageConsumer<String> consumer = vertx.eventBus().consumer("owner", m -> m.reply("handled"));
    consumer.completion().await(5, TimeUnit.SECONDS);
    consumer.pause();
    // On the consumer's own event loop the request is queued in the paused consumer at once; the consumer
    // then goes away with it unread.
    io.vertx.core.Promise<Future<?>> sent = io.vertx.core.Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> {
      Future<?> request = vertx.eventBus().request("owner", "append", new DeliveryOptions().setSendTimeout(30_000));
      consumer.unregister();
      sent.complete(request);
    });
    Throwable failure = awaitFailure(sent.future().await(5, TimeUnit.SECONDS));

    assertThat(failure).isInstanceOf(ReplyException.class);
    assertThat(((ReplyException) failure).failureType()).isEqualTo(ReplyFailure.TIMEOUT);
    assertThat(StreamRouter.discarded(failure)).as(failure.getMessage()).isTrue();
  }

  @Test
  void aRealTimeoutIsNotReportedAsDiscarded() throws Exception {
    vertx.eventBus().<String>consumer("silent", m -> { }).completion().await(5, TimeUnit.SECONDS);
    Future<?> request = vertx.eventBus().request("silent", "append", new DeliveryOptions().setSendTimeout(100));
    Throwable failure = awaitFailure(request);

    assertThat(((ReplyException) failure).failureType()).isEqualTo(ReplyFailure.TIMEOUT);
    assertThat(StreamRouter.discarded(failure)).as(failure.getMessage()).isFalse();
    assertThat(StreamRouter.discarded(new ReplyException(ReplyFailure.NO_HANDLERS, "none"))).isFalse();
  }

  private static Throwable awaitFailure(Future<?> future) throws Exception {
    try {
      future.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      return future.cause();
    }
    throw new AssertionError("the request was answered: " + future.result());
  }
}
