package io.tether.conversation;

import io.tether.cluster.owner.OwnerHandle;
import io.tether.config.TetherConfig;
import io.tether.stream.JsonBatch;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A session's {@link Conversation} and its only way into the session stream: events are appended one
 * after another through the owner's fenced path, and the conversation applies each only once its append
 * is acknowledged (replicated), so neither it nor the snapshot ever shows what a failover could lose.
 * Also keeps the snapshot (saved as the stream grows, and before the owner goes idle) and the marker
 * that tells the supervisor a session has work in progress.
 *
 * <p>A failed append, or one refused for any reason but a missing backup copy (which is waited out),
 * means the owner lost the stream: the journal stops and calls {@code onLost}. Runs on the owner's context.
 */
final class SessionJournal {

  private static final Logger log = LoggerFactory.getLogger(SessionJournal.class);
  /** How often the snapshot is saved while an answer streams. */
  private static final long SAVE_INTERVAL_MILLIS = 1_000;
  /**
   * How long an append refused for want of a backup copy is tried again before the owner steps down:
   * longer than the cluster takes to copy a lost member's partitions again under load.
   */
  private static final long UNDER_REPLICATED_PATIENCE_MILLIS = 30_000;

  private final OwnerHandle owner;
  private final ConversationServices services;
  private final Vertx vertx;
  private final String sessionId;
  private final Runnable onLost;
  private Conversation state;
  private boolean stopped;
  private Future<Void> tail = Future.succeededFuture();
  private boolean markedActive;
  private long lastSave;
  private boolean saveScheduled;
  private Future<Void> saving = Future.succeededFuture();
  /** Events appended since the snapshot was last saved; see {@link #countForSnapshot}. */
  private int eventsSinceSave;
  private long bytesSinceSave;

  SessionJournal(OwnerHandle owner, ConversationServices services, Vertx vertx, String sessionId, Runnable onLost) {
    this.owner = owner;
    this.services = services;
    this.vertx = vertx;
    this.sessionId = sessionId;
    this.onLost = onLost;
    this.state = new Conversation(sessionId);
  }

  Conversation state() {
    return state;
  }

  boolean stopped() {
    return stopped;
  }

  void stop() {
    stopped = true;
  }

  /** Rebuilds the conversation from the saved snapshot plus every event after it, up to the tail. */
  Future<Void> restore() {
    return services.store().load(owner.stream(), owner.context()).compose(saved -> {
      if (saved != null) {
        state = Conversation.fromJson(saved);
      }
      return catchUp(state.offset() == null ? ReadStart.BEGINNING : new ReadStart.At(Offset.parse(state.offset())));
    });
  }

  /** Reads and applies every event after {@code from}, page by page, up to the tail. */
  private Future<Void> catchUp(ReadStart from) {
    return owner.read(from, 1 << 20).compose(reply -> {
      if (reply.outcome() != Outcome.OK) {
        return Future.failedFuture(new IllegalStateException("read of " + owner.stream() + " answered " + reply.outcome()
            + (reply.detail() == null ? "" : ": " + reply.detail())));
      }
      Offset at = reply.start();
      for (byte[] payload : reply.events()) {
        Offset next = at.plus(payload.length);
        for (byte[] message : JsonBatch.messagesOf(payload)) {
          state.apply(new JsonObject(Buffer.buffer(message)), next.toString());
        }
        at = next;
      }
      if (reply.upToDate() || reply.events().isEmpty()) {
        return Future.succeededFuture();
      }
      return catchUp(new ReadStart.At(reply.next()));
    });
  }

  /** Appends one event after those already queued; the conversation applies it once it is replicated. */
  Future<Void> emit(JsonObject event) {
    return emitTogether(List.of(event));
  }

  /**
   * Appends {@code events} as one stream event (a JSON batch): a reader, and the next owner, sees all of
   * them or none.
   */
  Future<Void> emitTogether(List<JsonObject> events) {
    List<byte[]> messages = new ArrayList<>();
    for (JsonObject event : events) {
      event.getMap().values().removeIf(Objects::isNull);
      messages.add(event.encode().getBytes(StandardCharsets.UTF_8));
    }
    byte[] payload = JsonBatch.join(messages);
    Promise<Void> done = Promise.promise();
    tail = tail.compose(v -> {
      if (stopped) {
        return Future.failedFuture("session owner stopped");
      }
      return appendPatiently(payload, System.currentTimeMillis() + UNDER_REPLICATED_PATIENCE_MILLIS, 50);
    }).compose(reply -> {
      if (reply.outcome() != Outcome.APPENDED) {
        return Future.failedFuture(new IllegalStateException("append answered " + reply.outcome()));
      }
      String next = reply.start().plus(payload.length).toString();
      events.forEach(event -> state.apply(event, next));
      countForSnapshot(payload.length);
      return Future.<Void>succeededFuture();
    }).onComplete(ar -> {
      if (ar.failed() && !stopped) {
        log.warn("session {}: event not appended ({}); the owner steps down", sessionId, ar.cause().getMessage());
        onLost.run();
        owner.retire("session append failed");
      }
      done.handle(ar);
    }).recover(e -> Future.failedFuture(e));
    return done.future();
  }

  /**
   * Appends, and appends again while the stream refuses for want of a backup copy
   * ({@link Outcome#UNDER_REPLICATED}: the member that held it left, and the cluster is copying the
   * partition again). Such a refusal wrote nothing, so the retry cannot duplicate, and the appends
   * queued behind wait their turn. Stepping down instead would hand every session on those partitions to
   * a new owner that is refused the same way; after a node loss that was hundreds of sessions at once.
   */
  private Future<StreamReply> appendPatiently(byte[] payload, long deadline, long delayMillis) {
    return owner.append(payload).compose(reply -> {
      if (reply.outcome() != Outcome.UNDER_REPLICATED || stopped
          || System.currentTimeMillis() + delayMillis > deadline) {
        return Future.succeededFuture(reply);
      }
      Promise<StreamReply> later = Promise.promise();
      vertx.setTimer(delayMillis, t -> appendPatiently(payload, deadline, Math.min(delayMillis * 2, 1_000))
          .onComplete(later));
      return later.future();
    });
  }

  /** Runs {@code then} once every append queued so far is in (not at all if one fails). */
  void afterQueued(Runnable then) {
    tail.onSuccess(v -> then.run());
  }

  /** Runs {@code then} once every append queued so far has completed, whether it succeeded or not. */
  void afterAll(Runnable then) {
    tail.onComplete(ar -> then.run());
  }

  /** Appends queued or in flight. */
  boolean writing() {
    return !tail.isComplete();
  }

  /** Whether the supervisor is told this session has work in progress. */
  boolean markedActive() {
    return markedActive;
  }

  /** Events not yet in a saved snapshot, or a save pending or running. */
  boolean unsaved() {
    return eventsSinceSave > 0 || saveScheduled || !saving.isComplete();
  }

  boolean hasUnsavedEvents() {
    return eventsSinceSave > 0;
  }

  /**
   * Tells the supervisor whether the session has work the server runs (a generation, a tool it runs):
   * such a session is carried on after its owner's node dies, even with nobody connected.
   */
  void updateActive() {
    Conversation c = state;
    boolean work = c.generation().equals(Conversation.RUNNING);
    if (c.generation().equals(Conversation.WAITING_FOR_TOOLS)) {
      for (JsonObject tool : c.toolsOfTurn(c.turn())) {
        String s = tool.getString("state");
        if (!"client".equals(tool.getString("executor"))
            && (s.equals(Conversation.APPROVED) || s.equals(Conversation.TOOL_RUNNING_STATE) || s.equals(Conversation.REQUESTED))) {
          work = true;
        }
      }
    }
    if (work != markedActive) {
      markedActive = work;
      services.store().markActive(owner.stream(), work, owner.context())
          .onFailure(e -> log.warn("session {}: active marker not updated: {}", sessionId, e.getMessage()));
    }
  }

  /**
   * A new owner restores from the saved snapshot plus the events after it, so those events must still be
   * in the ring: the snapshot is saved again whenever a quarter of the ring (in events or in bytes) has
   * been appended since the last save, whatever appended it (answers, tool calls, devices coming and going).
   */
  private void countForSnapshot(int bytes) {
    eventsSinceSave++;
    bytesSinceSave += bytes;
    TetherConfig config = services.config();
    if (eventsSinceSave >= Math.max(1, config.ringMaxEvents() / 4) || bytesSinceSave >= config.ringMaxBytes() / 4) {
      saveNow();
    }
  }

  /** Saves the snapshot within a second (answers stream many small events: one save per second). */
  void saveSoon() {
    if (saveScheduled) {
      return;
    }
    long wait = Math.max(1, SAVE_INTERVAL_MILLIS - (System.currentTimeMillis() - lastSave));
    saveScheduled = true;
    vertx.setTimer(wait, t -> {
      saveScheduled = false;
      saveNow();
    });
  }

  /** Saves the snapshot once the queued appends are in (so it never runs ahead of the stream). */
  void saveNow() {
    if (stopped) {
      return;
    }
    lastSave = System.currentTimeMillis();
    eventsSinceSave = 0;
    bytesSinceSave = 0;
    saving = Future.all(saving, tail).transform(x -> {
      if (stopped) {
        return Future.succeededFuture();
      }
      return services.store().save(owner.stream(), state.toJson(), owner.context())
          .recover(e -> {
            log.warn("session {}: snapshot not saved: {}", sessionId, e.getMessage());
            return Future.succeededFuture();
          });
    });
  }
}
