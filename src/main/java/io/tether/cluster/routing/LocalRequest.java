package io.tether.cluster.routing;

import io.tether.wire.WireMessage;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * A request handed to a stream owner on this node without the event bus: the router gives it to the
 * owner's context, and the owner answers it as it answers any message. The event bus would do the same
 * hand-off, plus a reply registration, a codec and the cluster's address look-up for every request;
 * this is the path of every request whose owner is here (all of them on a single node).
 *
 * <p>The answer comes back on the context of the router's call, as an event-bus reply would. It carries
 * the same expiry header as a request sent over the event bus, so an owner that only gets to it after
 * its sender stopped waiting drops it the same way.
 */
final class LocalRequest implements Message<WireMessage> {

  private final String address;
  private final WireMessage body;
  private final MultiMap headers;
  private final Promise<Message<WireMessage>> answer;
  private final Context caller;

  /**
   * @param expiresAt wall-clock time (ms) after which nobody waits for the answer
   * @param caller    the context the answer is delivered on
   */
  LocalRequest(String address, WireMessage body, long expiresAt, Context caller) {
    this.address = address;
    this.body = body;
    this.headers = MultiMap.caseInsensitiveMultiMap().add(Expiry.HEADER, Long.toString(expiresAt));
    this.answer = Promise.promise();
    this.caller = caller;
  }

  /** The owner's answer (a reply or a failure), or a {@code TIMEOUT} failure from {@link #timeOut}. */
  Future<Message<WireMessage>> answer() {
    return answer.future();
  }

  /** Nobody waits any longer: the answer fails as an unanswered event-bus request does. */
  void timeOut(long afterMillis) {
    answer.tryFail(new ReplyException(ReplyFailure.TIMEOUT,
        "Timed out after waiting " + afterMillis + "(ms) for a reply. address: " + address));
  }

  @Override
  public String address() {
    return address;
  }

  @Override
  public MultiMap headers() {
    return headers;
  }

  @Override
  public WireMessage body() {
    return body;
  }

  @Override
  public String replyAddress() {
    return null;
  }

  @Override
  public boolean isSend() {
    return true;
  }

  @Override
  public void reply(Object message, DeliveryOptions options) {
    if (!(message instanceof WireMessage wire)) {
      fail(500, "an owner answered with " + (message == null ? "nothing" : message.getClass().getName()));
      return;
    }
    Reply reply = new Reply(address, wire);
    caller.runOnContext(v -> answer.tryComplete(reply));
  }

  @Override
  public <R> Future<Message<R>> replyAndRequest(Object message, DeliveryOptions options) {
    return Future.failedFuture(new UnsupportedOperationException("a local request takes one answer"));
  }

  @Override
  public void fail(int failureCode, String message) {
    caller.runOnContext(v -> answer.tryFail(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, failureCode, message)));
  }

  /** The owner's answer, as the router reads it. */
  private record Reply(String address, WireMessage body) implements Message<WireMessage> {

    @Override
    public MultiMap headers() {
      return MultiMap.caseInsensitiveMultiMap();
    }

    @Override
    public String replyAddress() {
      return null;
    }

    @Override
    public boolean isSend() {
      return true;
    }

    @Override
    public void reply(Object message, DeliveryOptions options) {
      throw new UnsupportedOperationException("an answer takes no reply");
    }

    @Override
    public <R> Future<Message<R>> replyAndRequest(Object message, DeliveryOptions options) {
      return Future.failedFuture(new UnsupportedOperationException("an answer takes no reply"));
    }
  }
}
