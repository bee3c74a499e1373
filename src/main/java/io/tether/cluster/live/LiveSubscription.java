package io.tether.cluster.live;

import io.tether.cluster.StreamServices;
import io.tether.cluster.routing.StreamRequest;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.vertx.core.Context;
import io.vertx.core.Vertx;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The reading side of one live connection (SSE, long-poll or WebSocket): replays a stream from an
 * offset, then follows its tail, delivering every event exactly once and in order, across owner
 * changes.
 *
 * <ol>
 *   <li>{@link StreamRequest.Subscribe} goes to the owner through the router. The owner answers with
 *       events from the position (bounded in bytes); while they do not reach the tail the subscription
 *       asks again from where the answer ended.</li>
 *   <li>At the tail the owner registers the subscription and pushes each new event to this node's live
 *       address ({@link LivePush}); the push is relayed here on the connection's own context.</li>
 *   <li>Every delivery is checked against the next expected offset: duplicates are dropped, a gap (or a
 *       {@code MOVED} signal, or the owner's node leaving, or a ping the owner does not recognise)
 *       makes the subscription re-subscribe from its own position, which the new owner serves from the
 *       replicated ring.</li>
 * </ol>
 * All methods run on the context that created the subscription.
 */
public final class LiveSubscription {

  /** What a transport does with what the subscription delivers. Called on the connection's context. */
  public interface Listener {
    /**
     * Consecutive events starting at {@code start} (possibly none); {@code upToDate} when they reach the
     * tail as the owner saw it; {@code closed} when the stream is closed and nothing more will come.
     */
    void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed);

    /**
     * The subscription ended for a reason the transport reports: {@code reply} is the owner's refusal
     * (not found, deleted, offset gone...) or {@code null} with {@code error} when the cluster could not
     * be reached.
     */
    void onEnd(StreamReply reply, Throwable error);

    /**
     * This node is shutting down: tell the client to reconnect (to another node) from its position.
     * Called on the connection's context; the subscription has already ended.
     */
    void onNodeShutdown();

    /**
     * Runs {@code next} once the connection can take more (its write queue has room): the replay asks
     * the owner for its next page only then, so a slow reader catching up holds one page, not the
     * stream. Live pushes are not paced this way; a transport cuts a reader that cannot keep up with them.
     */
    default void whenWritable(Runnable next) {
      next.run();
    }
  }

  /** Pushes held while a (re)subscription is in flight, by count and by payload bytes. */
  private static final int MAX_BUFFERED_PUSHES = 256;

  private final StreamServices services;
  private final String stream;
  private final Listener listener;
  private final Context context;
  private final Vertx vertx;
  private final long id;
  private final ArrayDeque<LivePush> buffered = new ArrayDeque<>();
  private long bufferedBytes;

  private enum State { CATCHING_UP, LIVE, ENDED }

  private State state = State.CATCHING_UP;
  private ReadStart initial;
  private Offset next;
  private long ownerEpoch = -1;
  /** The stream's incarnation as the owner reported it (0 until the first answer). */
  private long incarnation;
  private String ownerNode;
  private int generation;
  private boolean droppedPushes;
  private long pingTimer = -1;
  private long suspectIndex = -1;
  private StreamSettings settings;

  public LiveSubscription(StreamServices services, String stream, ReadStart start, Listener listener) {
    this.services = services;
    this.stream = stream;
    this.listener = listener;
    this.initial = start;
    this.vertx = services.vertx();
    this.context = vertx.getOrCreateContext();
    this.id = services.live().nextId();
  }

  public long id() {
    return id;
  }

  public String stream() {
    return stream;
  }

  /** The offset of the next event this subscription will deliver, once known. */
  public Offset position() {
    return next;
  }

  /** The stream's settings (content type, expiry), known from the first delivery on. */
  public StreamSettings settings() {
    return settings;
  }

  public boolean isLive() {
    return state == State.LIVE;
  }

  /** Starts replay and live delivery. */
  public void start() {
    services.live().add(this);
    long interval = services.config().leaseSeconds() * 1000L;
    pingTimer = vertx.setPeriodic(interval, interval, t -> ping());
    subscribe(initial);
  }

  /** Stops delivery and tells the owner (best effort). Safe to call more than once. */
  public void close() {
    if (state == State.ENDED) {
      return;
    }
    end();
    services.router().notify(stream, new StreamRequest.Unsubscribe(services.nodeId(), id));
  }

  private void end() {
    state = State.ENDED;
    clearBuffered();
    if (pingTimer >= 0) {
      vertx.cancelTimer(pingTimer);
      pingTimer = -1;
    }
    services.live().remove(this);
  }

  private void subscribe(ReadStart from) {
    state = State.CATCHING_UP;
    int gen = ++generation;
    StreamRequest.Subscribe request = new StreamRequest.Subscribe(services.nodeId(), id, from,
        services.config().maxReadBytes());
    services.router().request(stream, request).onComplete(ar -> {
      if (state == State.ENDED || gen != generation) {
        return;
      }
      if (ar.failed()) {
        end();
        listener.onEnd(null, ar.cause());
        return;
      }
      StreamReply reply = ar.result();
      if (reply.outcome() != Outcome.OK) {
        end();
        listener.onEnd(reply, null);
        return;
      }
      ownerEpoch = Math.max(ownerEpoch, reply.ownerEpoch());
      ownerNode = reply.ownerNode();
      if (reply.incarnation() > 0) {
        incarnation = reply.incarnation();
      }
      if (reply.settings() != null) {
        settings = reply.settings();
      }
      deliver(reply.start(), reply.events(), reply.next(), reply.upToDate(), reply.closed());
      if (state == State.ENDED) {
        return;
      }
      if (reply.closed()) {
        end();
      } else if (!reply.upToDate()) {
        Offset resumeAt = next;
        listener.whenWritable(() -> {
          if (state != State.ENDED && gen == generation) {
            subscribe(new ReadStart.At(resumeAt));
          }
        });
      } else if (droppedPushes) {
        droppedPushes = false;
        clearBuffered();
        subscribe(new ReadStart.At(next));
      } else {
        state = State.LIVE;
        suspectIndex = -1;
        while (!buffered.isEmpty() && state == State.LIVE) {
          LivePush push = buffered.removeFirst();
          bufferedBytes -= bytes(push);
          apply(push);
        }
      }
    });
  }

  private void resubscribe() {
    if (state != State.ENDED) {
      clearBuffered();
      droppedPushes = false;
      subscribe(next == null ? initial : new ReadStart.At(next));
    }
  }

  /** Delivers what lies at or after the expected position; drops what was already delivered. */
  private void deliver(Offset start, List<byte[]> events, Offset end, boolean upToDate, boolean closed) {
    List<byte[]> fresh = events;
    Offset from = start == null ? end : start;
    if (next != null && from != null && from.index() < next.index()) {
      int skip = (int) Math.min(events.size(), next.index() - from.index());
      long bytes = from.bytes();
      for (int i = 0; i < skip; i++) {
        bytes += events.get(i).length;
      }
      fresh = events.subList(skip, events.size());
      from = new Offset(from.index() + skip, bytes);
    }
    if (end != null && (next == null || end.index() >= next.index())) {
      next = end;
    }
    listener.onData(from, fresh, next, upToDate, closed);
  }

  /** A push from the owner, relayed by the node agent (any thread). */
  public void onPush(LivePush push) {
    if (!push.stream().equals(stream)) {
      // Subscription ids are per node: a push for another stream that names this id (a late push from an
      // owner that knew an earlier process on this node) is not for this subscription.
      return;
    }
    context.runOnContext(v -> {
      if (state == State.ENDED || push.ownerEpoch() < ownerEpoch
          || (incarnation > 0 && push.incarnation() != incarnation)) {
        return;
      }
      if (state != State.LIVE) {
        long size = bytes(push);
        if (droppedPushes || buffered.size() >= MAX_BUFFERED_PUSHES
            || bufferedBytes + size > services.config().maxReadBytes()) {
          // Past the bound, hold nothing: the replay that follows reads what was dropped from the ring.
          droppedPushes = true;
          clearBuffered();
        } else {
          buffered.addLast(push);
          bufferedBytes += size;
        }
        return;
      }
      apply(push);
    });
  }

  private void apply(LivePush push) {
    if (push.signal() == LivePush.SIGNAL_GONE) {
      end();
      listener.onEnd(StreamReply.refusal(Outcome.NOT_FOUND, "stream was deleted"), null);
      return;
    }
    if (push.signal() == LivePush.SIGNAL_MOVED) {
      resubscribe();
      return;
    }
    ownerEpoch = Math.max(ownerEpoch, push.ownerEpoch());
    if (push.start().index() > next.index()) {
      resubscribe();
      return;
    }
    Offset end = push.end();
    if (end.index() < next.index() || (end.index() == next.index() && !push.closed())) {
      return;
    }
    deliver(push.start(), push.events(), end, true, push.closed());
    if (push.closed()) {
      end();
    }
  }

  /**
   * Renews the owner's lease and checks for a missed push: the owner reports its push position, and a
   * subscription still behind the position it saw on the previous ping re-subscribes.
   */
  private void ping() {
    if (state != State.LIVE) {
      return;
    }
    int gen = generation;
    services.router().request(stream, new StreamRequest.Ping(services.nodeId(), id)).onComplete(ar -> {
      if (state != State.LIVE || gen != generation) {
        return;
      }
      if (ar.failed() || ar.result().outcome() != Outcome.OK) {
        resubscribe();
        return;
      }
      Offset pushed = ar.result().next();
      if (pushed == null || pushed.index() <= next.index()) {
        suspectIndex = -1;
      } else if (suspectIndex >= 0 && next.index() < suspectIndex) {
        resubscribe();
      } else {
        suspectIndex = pushed.index();
      }
    });
  }

  private void clearBuffered() {
    buffered.clear();
    bufferedBytes = 0;
  }

  private static long bytes(LivePush push) {
    long total = 0;
    for (byte[] event : push.events()) {
      total += event.length;
    }
    return total;
  }

  /** Pushes held while a subscription is in flight, in payload bytes (for tests and metrics). */
  public long bufferedBytes() {
    return bufferedBytes;
  }

  /** This node is shutting down (any thread): end the subscription and let the transport say so. */
  void shutdown() {
    context.runOnContext(v -> {
      if (state != State.ENDED) {
        end();
        listener.onNodeShutdown();
      }
    });
  }

  /** The node that held this subscription's owner left the cluster (any thread). */
  public void nodeLeft(String nodeId) {
    context.runOnContext(v -> {
      if (state != State.ENDED && nodeId.equals(ownerNode)) {
        resubscribe();
      }
    });
  }
}
