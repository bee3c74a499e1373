package io.tether.cluster.routing;

import io.tether.stream.Outcome;
import io.tether.stream.StreamReply;
import io.tether.wire.WireMessage;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A request handed to an owner on the same node answers like an event-bus request: on the caller's
 * context, a handler's failure as a recipient failure with its code, an unanswered one as a timeout
 * that is not taken for a discarded request, and it carries the same expiry an owner checks.
 */
class LocalRequestTest {

  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void theAnswerArrivesOnTheCallersContextWhicheverThreadRepliedOnIt() throws Exception {
    Context caller = vertx.getOrCreateContext();
    Context owner = vertx.getOrCreateContext();
    LocalRequest request = new LocalRequest("stream.s", reply(Outcome.OK), System.currentTimeMillis() + 5_000, caller);
    CompletableFuture<Boolean> onCaller = new CompletableFuture<>();
    CompletableFuture<WireMessage> body = new CompletableFuture<>();
    request.answer().onComplete(ar -> {
      onCaller.complete(Vertx.currentContext() == caller);
      body.complete(ar.result().body());
    });
    owner.runOnContext(v -> request.reply(reply(Outcome.CREATED)));

    assertThat(onCaller.get(5, TimeUnit.SECONDS)).as("answered on the caller's context").isTrue();
    assertThat(((StreamReply) body.get(5, TimeUnit.SECONDS)).outcome()).isEqualTo(Outcome.CREATED);
  }

  @Test
  void aFailureIsARecipientFailureWithItsCode() throws Exception {
    LocalRequest request = new LocalRequest("stream.s", reply(Outcome.OK), System.currentTimeMillis() + 5_000,
        vertx.getOrCreateContext());
    request.fail(StreamRouter.OUTCOME_UNKNOWN_CODE, "backup did not answer");

    ReplyException failure = failure(request.answer());
    assertThat(failure.failureType()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
    assertThat(failure.failureCode()).isEqualTo(StreamRouter.OUTCOME_UNKNOWN_CODE);
    assertThat(failure.getMessage()).isEqualTo("backup did not answer");
  }

  @Test
  void anUnansweredRequestTimesOutAndALaterAnswerIsIgnored() throws Exception {
    Context caller = vertx.getOrCreateContext();
    LocalRequest request = new LocalRequest("stream.s", reply(Outcome.OK), System.currentTimeMillis() + 5_000, caller);
    caller.runOnContext(v -> request.timeOut(100));

    ReplyException failure = failure(request.answer());
    assertThat(failure.failureType()).isEqualTo(ReplyFailure.TIMEOUT);
    assertThat(StreamRouter.discarded(failure)).as("a timeout may have been applied: not 'discarded'").isFalse();
    request.reply(reply(Outcome.OK));
    assertThat(request.answer().failed()).isTrue();
  }

  @Test
  void itCarriesTheExpiryAnOwnerChecks() {
    Context caller = vertx.getOrCreateContext();
    Message<WireMessage> current = new LocalRequest("stream.s", reply(Outcome.OK), System.currentTimeMillis() + 5_000, caller);
    Message<WireMessage> stale = new LocalRequest("stream.s", reply(Outcome.OK),
        System.currentTimeMillis() - Expiry.CLOCK_SKEW_MILLIS - 1_000, caller);

    assertThat(Expiry.expired(current)).isFalse();
    assertThat(Expiry.expired(stale)).isTrue();
  }

  @Test
  void itsExpiryIsTheDeadlineAnOwnerWorksToAndGoesAlongWhenTheRequestIsHandedOn() {
    long expiresAt = System.currentTimeMillis() + 5_000;
    Message<WireMessage> request = new LocalRequest("stream.s", reply(Outcome.OK), expiresAt, vertx.getOrCreateContext());

    assertThat(Expiry.deadline(request, 0)).isEqualTo(expiresAt);
    // An owner or node agent that relays it over the event bus sends the same expiry on.
    assertThat(Expiry.relay(request, 1_000).getHeaders().get(Expiry.HEADER)).isEqualTo(Long.toString(expiresAt));
    assertThat(request.headers().get(Expiry.HEADER)).isEqualTo(Long.toString(expiresAt));
  }

  private static StreamReply reply(Outcome outcome) {
    return StreamReply.of(outcome).build();
  }

  private static ReplyException failure(Future<?> answer) throws Exception {
    try {
      answer.await(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      assertThat(answer.cause()).isInstanceOf(ReplyException.class);
      return (ReplyException) answer.cause();
    }
    throw new AssertionError("answered: " + answer.result());
  }
}
