package io.tether.conversation;

import io.tether.cluster.OwnerCompanion;
import io.tether.cluster.OwnerHandle;
import io.tether.conversation.SessionCommand.Result;
import io.tether.stream.JsonBatch;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.util.UUID;

import static io.tether.conversation.SessionEvents.*;

/**
 * The conversation logic of one session, running beside the session stream's owner, on its context,
 * for as long as that owner owns the stream. It is the only writer of the session stream.
 *
 * <p>On start it rebuilds the {@link Conversation} from the saved snapshot plus the events after it,
 * then resumes work in progress: a generation cut by the loss of the previous owner continues from the
 * text already delivered (marked by a {@code generation.resumed} event), an approved tool runs again.
 *
 * <p>Every event is appended through the owner's fenced path, one at a time and in order; the in-memory
 * conversation applies an event only once the append is acknowledged (replicated), so the snapshot
 * never shows what a failover could lose.
 */
public final class SessionCompanion implements OwnerCompanion {

  private static final Logger log = LoggerFactory.getLogger(SessionCompanion.class);
  /** How often the snapshot is saved while an answer streams. */
  private static final long SAVE_INTERVAL_MILLIS = 1_000;
  /** Resumptions of one turn after upstream failures, before the turn fails. */
  private static final int MAX_RESUMES = 3;

  private final OwnerHandle owner;
  private final ConversationServices services;
  private final Vertx vertx;
  private final String sessionId;
  private Conversation state;

  private boolean started;
  private boolean stopped;
  private final List<Runnable> waiting = new ArrayList<>();
  private Future<Void> tail = Future.succeededFuture();
  private Generation generation;
  private boolean markedActive;
  private long lastSave;
  private boolean saveScheduled;
  private Future<Void> saving = Future.succeededFuture();
  /** Devices tracked per session, and the presence events each may cause (a burst, then one per interval). */
  static final int MAX_DEVICES = 32;
  static final int PRESENCE_BURST = 4;
  static final long PRESENCE_REFILL_MILLIS = 15_000;

  private final DevicePresence presence;
  /** Devices whose joined or left event is being appended (so it is appended once). */
  private final java.util.Set<String> announcing = new java.util.HashSet<>();
  private long reconcileTimer = -1;
  /** Events appended since the snapshot was last saved; see {@link #countForSnapshot}. */
  private int eventsSinceSave;
  private long bytesSinceSave;

  public SessionCompanion(OwnerHandle owner, ConversationServices services, Vertx vertx) {
    this.owner = owner;
    this.services = services;
    this.vertx = vertx;
    this.sessionId = SessionIds.sessionOf(owner.stream());
    this.state = new Conversation(sessionId);
    this.presence = new DevicePresence(MAX_DEVICES, PRESENCE_BURST, PRESENCE_REFILL_MILLIS, leaseMillis());
  }

  // ------------------------------------------------------------------------------------ lifecycle

  @Override
  public void start() {
    services.store().load(owner.stream(), owner.context()).compose(saved -> {
      if (saved != null) {
        state = Conversation.fromJson(saved);
      }
      ReadStart from = state.offset() == null ? ReadStart.BEGINNING : new ReadStart.At(Offset.parse(state.offset()));
      return catchUp(from);
    }).onComplete(ar -> {
      if (stopped) {
        return;
      }
      if (ar.failed()) {
        log.error("session {}: cannot restore its state: {}", sessionId, ar.cause().getMessage());
        owner.retire("session state could not be restored");
        return;
      }
      started = true;
      // Devices the previous owner saw stay listed until their leases, renewed by their nodes, lapse.
      presence.restore(state.devices(), System.currentTimeMillis());
      List<Runnable> queued = new ArrayList<>(waiting);
      waiting.clear();
      resumeWork();
      queued.forEach(Runnable::run);
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

  @Override
  public void stop() {
    stopped = true;
    if (reconcileTimer >= 0) {
      vertx.cancelTimer(reconcileTimer);
    }
    if (generation != null) {
      generation.halt();
      generation = null;
    }
  }

  /** Lapsed presence leases, from the owner's periodic sweep (no timer of its own). */
  @Override
  public void sweep(long now) {
    if (started && !stopped) {
      expirePresence();
      if (!busyExceptSnapshot() && eventsSinceSave > 0) {
        // About to go idle: save the snapshot, so that the next owner restores from here quickly.
        saveNow();
      }
    }
  }

  @Override
  public boolean busy() {
    return busyExceptSnapshot() || eventsSinceSave > 0 || saveScheduled || !saving.isComplete();
  }

  /**
   * Work only this owner can carry on: restoring, commands or appends in flight, a generation or a tool
   * it runs ({@link #updateActive}'s marker), devices present or presence events owed. Waiting for a
   * human decision or a client's tool result is not work.
   */
  private boolean busyExceptSnapshot() {
    return !started || !waiting.isEmpty() || !tail.isComplete() || markedActive
        || presence.trackedDevices() > 0 || !announcing.isEmpty() || reconcileTimer >= 0
        || (generation != null && generation.flushTimer >= 0);
  }

  // ------------------------------------------------------------------------------------ commands

  @Override
  public Future<String> command(String json) {
    Promise<String> reply = Promise.promise();
    Runnable run = () -> tail.onComplete(ar -> {
      if (stopped) {
        // Not handled here: the owner answers MOVED and the router delivers it to the new owner.
        reply.fail(new io.tether.cluster.OwnerCompanion.Stopped());
        return;
      }
      Future<Result> result;
      try {
        result = handle(new JsonObject(json));
      } catch (RuntimeException e) {
        result = Future.succeededFuture(Result.error(400, "invalid_command", String.valueOf(e.getMessage())));
      }
      result.onComplete(r -> reply.complete(r.succeeded() ? r.result().encode()
          : Result.error(503, "session_unavailable", String.valueOf(r.cause().getMessage())).encode()));
    });
    if (started) {
      run.run();
    } else {
      waiting.add(run);
    }
    return reply.future();
  }

  private Future<Result> handle(JsonObject command) {
    Conversation c = state;
    String device = command.getString("device");
    switch (command.getString("type", "")) {
      case SessionCommand.SNAPSHOT:
        return Future.succeededFuture(Result.ok(c.toJson()));
      case SessionCommand.RESUME:
        return Future.succeededFuture(Result.ok(new JsonObject().put("generation", c.generation())));
      case SessionCommand.PRESENCE:
        return presence(device, command.getString("node", ""), "join".equals(command.getString("state")));
      case SessionCommand.MESSAGE:
        return message(command.getString("text"), command.getString("messageId"), device);
      case SessionCommand.STOP:
        return stopGeneration(device);
      case SessionCommand.APPROVE:
      case SessionCommand.DENY:
        return decide(command.getString("callId"), SessionCommand.APPROVE.equals(command.getString("type")),
            command.getString("reason"), device);
      case SessionCommand.TOOL_RESULT:
        return toolResult(command.getString("callId"), command.getValue("result"), command.getString("error"), device);
      default:
        return Future.succeededFuture(Result.error(400, "invalid_command", "unknown command"));
    }
  }

  private Future<Result> message(String text, String messageId, String device) {
    Conversation c = state;
    if (text == null || text.isBlank()) {
      return Future.succeededFuture(Result.error(400, "empty_message", "a message needs a non-empty text"));
    }
    if (messageId != null && c.message(messageId) != null) {
      // The same message sent again (a retry after a lost answer): already accepted.
      JsonObject m = c.message(messageId);
      return Future.succeededFuture(Result.ok(new JsonObject().put("messageId", messageId)
          .put("turn", m.getInteger("turn")).put("duplicate", true).put("offset", c.offset())));
    }
    if (c.generating()) {
      return Future.succeededFuture(Result.error(409, "generation_in_progress",
          "an answer is being generated; stop it or wait for it to finish"));
    }
    String id = messageId != null ? messageId : "m_" + shortId();
    int turn = c.turn() + 1;
    // One append: a new owner never finds the message without its generation (a retry of the message
    // would then be answered as a duplicate and the turn never answered).
    Future<Void> startedEvent = emitTogether(List.of(
        event(USER_MESSAGE).put("messageId", id).put("turn", turn).put("text", text).put("device", device),
        event(GENERATION_STARTED).put("turn", turn).put("model", services.model().name())));
    return startedEvent.map(v -> {
      generation = new Generation(turn, 0);
      generation.call("");
      services.metrics().generation("started", null);
      updateActive();
      return Result.ok(new JsonObject().put("messageId", id).put("turn", turn).put("offset", state.offset()));
    });
  }

  private Future<Result> stopGeneration(String device) {
    Conversation c = state;
    if (!c.generating()) {
      return Future.succeededFuture(Result.error(409, "not_generating", "there is no generation to stop"));
    }
    int turn = c.turn();
    if (generation != null) {
      generation.halt();
      generation.flush();
      generation = null;
    }
    if (c.assistantId() != null) {
      emit(event(ASSISTANT_END).put("messageId", c.assistantId()).put("finishReason", "stopped"));
    }
    services.metrics().generation("stopped", null);
    return emit(event(GENERATION_STOPPED).put("turn", turn).put("device", device)).map(v -> {
      updateActive();
      saveNow();
      return Result.ok(new JsonObject().put("turn", turn).put("offset", state.offset()));
    });
  }

  private Future<Result> decide(String callId, boolean approve, String reason, String device) {
    Conversation c = state;
    JsonObject tool = callId == null ? null : c.tool(callId);
    if (tool == null) {
      return Future.succeededFuture(Result.error(404, "unknown_tool_call", "no tool call " + callId + " in this session"));
    }
    String toolState = tool.getString("state");
    String decided = approve ? Conversation.APPROVED : Conversation.DENIED;
    if (!toolState.equals(Conversation.AWAITING_APPROVAL)) {
      boolean sameDecision = toolState.equals(decided)
          || (approve && (toolState.equals(Conversation.TOOL_RUNNING_STATE) || toolState.equals(Conversation.TOOL_COMPLETED_STATE)
          || toolState.equals(Conversation.TOOL_FAILED_STATE)) && tool.getString("decidedBy") != null);
      if (sameDecision) {
        return Future.succeededFuture(Result.ok(new JsonObject().put("callId", callId).put("state", toolState)
            .put("duplicate", true)));
      }
      return Future.succeededFuture(Result.error(409, "tool_not_awaiting_approval",
          "tool call " + callId + " is " + toolState));
    }
    if (!approve) {
      services.metrics().toolCall("denied");
    }
    Future<Void> done = emit(approve
        ? event(TOOL_APPROVED).put("callId", callId).put("device", device)
        : event(TOOL_DENIED).put("callId", callId).put("device", device).put("reason", reason));
    return done.map(v -> {
      if (approve) {
        runTool(state.tool(callId));
      } else {
        continueIfToolsDone();
      }
      updateActive();
      saveNow();
      return Result.ok(new JsonObject().put("callId", callId).put("state", decided).put("offset", state.offset()));
    });
  }

  private Future<Result> toolResult(String callId, Object result, String error, String device) {
    Conversation c = state;
    JsonObject tool = callId == null ? null : c.tool(callId);
    if (tool == null) {
      return Future.succeededFuture(Result.error(404, "unknown_tool_call", "no tool call " + callId + " in this session"));
    }
    if (!"client".equals(tool.getString("executor"))) {
      return Future.succeededFuture(Result.error(409, "tool_not_client_executed",
          "tool " + tool.getString("name") + " is not run by clients"));
    }
    String s = tool.getString("state");
    if (!s.equals(Conversation.TOOL_RUNNING_STATE)) {
      return Future.succeededFuture(Result.error(409, "tool_not_running", "tool call " + callId + " is " + s));
    }
    if (result == null && error == null) {
      return Future.succeededFuture(Result.error(400, "missing_result", "send result or error"));
    }
    services.metrics().toolCall(error != null ? "failed" : "completed");
    JsonObject e = error != null ? event(TOOL_FAILED).put("callId", callId).put("error", error)
        : event(TOOL_COMPLETED).put("callId", callId).put("result", result);
    return emit(e.put("device", device)).map(v -> {
      continueIfToolsDone();
      saveNow();
      return Result.ok(new JsonObject().put("callId", callId).put("offset", state.offset()));
    });
  }

  // ------------------------------------------------------------------------------------ presence

  private long leaseMillis() {
    return services.config().heartbeatSeconds() * 3000L;
  }

  private Future<Result> presence(String device, String node, boolean join) {
    if (device == null || device.isEmpty()) {
      return Future.succeededFuture(Result.error(400, "invalid_command", "presence needs a device"));
    }
    if (join) {
      presence.join(device, node, System.currentTimeMillis());
    } else {
      presence.leave(device, node);
    }
    announcePresence();
    return Future.succeededFuture(Result.ok(new JsonObject().put("device", device)));
  }

  private void expirePresence() {
    presence.expire(System.currentTimeMillis());
    announcePresence();
  }

  /**
   * Appends the joined and left events the stream owes (within each device's budget), and wakes up
   * when the next one's budget refills.
   */
  private void announcePresence() {
    if (stopped) {
      return;
    }
    long now = System.currentTimeMillis();
    for (DevicePresence.Change change : presence.due(state.devices(), announcing, now)) {
      String device = change.device();
      announcing.add(device);
      emit(event(change.joined() ? DEVICE_JOINED : DEVICE_LEFT).put("device", device))
          .onComplete(ar -> announcing.remove(device));
    }
    long next = presence.nextDueAt(state.devices(), now);
    if (next > now && reconcileTimer < 0) {
      reconcileTimer = vertx.setTimer(next - now, t -> {
        reconcileTimer = -1;
        announcePresence();
      });
    }
  }

  // ------------------------------------------------------------------------------------ generation

  /** After a restore: continue what the previous owner was doing. */
  private void resumeWork() {
    Conversation c = state;
    String ended = c.endedAnswerReason();
    if (ended != null && !ended.equals("tool_calls")) {
      // The answer was whole; only the event closing the turn was lost with the previous owner.
      closeEndedTurn(c.turn(), ended);
    } else if (c.generation().equals(Conversation.RUNNING)) {
      int turn = c.turn();
      String partial = c.partialAnswer();
      emit(event(GENERATION_RESUMED).put("turn", turn).put("messageId", c.assistantId())
          .put("afterChars", partial.length()).put("reason", "owner_changed"));
      services.metrics().generation("resumed", "owner_changed");
      generation = new Generation(turn, 0);
      generation.assistantId = c.assistantId();
      generation.call(partial);
    } else if (c.generation().equals(Conversation.WAITING_FOR_TOOLS)) {
      generation = new Generation(c.turn(), 0);
      for (JsonObject tool : c.toolsOfTurn(c.turn())) {
        String s = tool.getString("state");
        if (s.equals(Conversation.REQUESTED) && tool.getBoolean("approval", false)) {
          // Its awaiting-approval event was lost with the previous owner: it still needs a decision.
          emit(event(TOOL_AWAITING_APPROVAL).put("callId", tool.getString("callId")));
        } else if ((s.equals(Conversation.APPROVED) || s.equals(Conversation.REQUESTED)
            || s.equals(Conversation.TOOL_RUNNING_STATE)) && !"client".equals(tool.getString("executor"))) {
          runTool(tool);
        }
      }
      continueIfToolsDone();
    }
    updateActive();
  }

  /**
   * Appends the event that closes a turn whose answer had ended ({@code finishReason}) when the
   * previous owner was lost: stopped, failed or completed, as that owner would have.
   */
  private void closeEndedTurn(int turn, String finishReason) {
    JsonObject closing;
    switch (finishReason) {
      case "stopped" -> closing = event(GENERATION_STOPPED);
      case "error" -> closing = event(GENERATION_FAILED).put("error", "the model call failed");
      default -> closing = event(GENERATION_COMPLETED);
    }
    // The metric's event is the closing event's suffix: stopped, failed or completed.
    String type = closing.getString("type");
    services.metrics().generation(type.substring(type.indexOf('.') + 1), null);
    emit(closing.put("turn", turn)).onSuccess(v -> {
      updateActive();
      saveNow();
    });
  }

  /** One turn's generation on this owner: model calls, coalesced deltas, tool requests. */
  private final class Generation implements ChatModel.ModelSink {
    final int turn;
    int resumes;
    String assistantId;
    ChatModel.ModelCall call;
    final StringBuilder buffer = new StringBuilder();
    final List<ChatModel.ToolCallRequest> requested = new ArrayList<>();
    long flushTimer = -1;
    boolean halted;
    int callSerial;
    long calledAt;
    boolean firstSeen;

    Generation(int turn, int resumes) {
      this.turn = turn;
      this.resumes = resumes;
    }

    void call(String partial) {
      Conversation c = state;
      requested.clear();
      int serial = ++callSerial;
      calledAt = System.nanoTime();
      firstSeen = false;
      ChatRequest request = new ChatRequest(c.modelMessages(services.config().systemPrompt()),
          services.tools().definitions(), partial);
      call = services.model().stream(request, new ChatModel.ModelSink() {
        @Override
        public void text(String delta) {
          if (serial == callSerial) {
            Generation.this.text(delta);
          }
        }

        @Override
        public void toolCall(ChatModel.ToolCallRequest toolCall) {
          if (serial == callSerial) {
            Generation.this.toolCall(toolCall);
          }
        }

        @Override
        public void finished(String finishReason) {
          if (serial == callSerial) {
            Generation.this.finished(finishReason);
          }
        }

        @Override
        public void failed(Throwable cause) {
          if (serial == callSerial) {
            Generation.this.failed(cause);
          }
        }
      });
    }

    @Override
    public void text(String delta) {
      if (halted || delta.isEmpty()) {
        return;
      }
      if (!firstSeen) {
        firstSeen = true;
        services.metrics().firstToken(System.nanoTime() - calledAt);
      }
      openAssistant();
      buffer.append(delta);
      if (flushTimer < 0) {
        flushTimer = vertx.setTimer(Math.max(1, services.config().coalesceMillis()), t -> {
          flushTimer = -1;
          flush();
        });
      }
    }

    void openAssistant() {
      if (assistantId == null) {
        assistantId = "a_" + shortId();
        emit(event(ASSISTANT_START).put("messageId", assistantId).put("turn", turn));
      }
    }

    void flush() {
      if (flushTimer >= 0) {
        vertx.cancelTimer(flushTimer);
        flushTimer = -1;
      }
      if (buffer.length() > 0 && assistantId != null) {
        emit(event(ASSISTANT_DELTA).put("messageId", assistantId).put("text", buffer.toString()));
        buffer.setLength(0);
        saveSoon();
      }
    }

    @Override
    public void toolCall(ChatModel.ToolCallRequest toolCall) {
      if (!halted) {
        requested.add(toolCall);
      }
    }

    @Override
    public void finished(String finishReason) {
      if (halted) {
        return;
      }
      flush();
      if (!requested.isEmpty()) {
        openAssistant();
      }
      if (assistantId != null) {
        emit(event(ASSISTANT_END).put("messageId", assistantId)
            .put("finishReason", requested.isEmpty() ? finishReason : "tool_calls"));
      }
      String message = assistantId;
      assistantId = null;
      if (requested.isEmpty()) {
        services.metrics().generation("completed", null);
        emit(event(GENERATION_COMPLETED).put("turn", turn)).onSuccess(v -> {
          if (generation == this) {
            generation = null;
          }
          updateActive();
          saveNow();
        });
        return;
      }
      List<JsonObject> toRun = new ArrayList<>();
      for (ChatModel.ToolCallRequest r : requested) {
        Tools.Tool tool = services.tools().get(r.name());
        boolean approval = tool == null || tool.approval();
        String executor = tool == null ? "none" : tool.executor();
        emit(event(TOOL_REQUESTED).put("callId", r.callId()).put("messageId", message).put("turn", turn)
            .put("name", r.name()).put("arguments", r.arguments()).put("approval", approval).put("executor", executor));
        if (tool == null) {
          emit(event(TOOL_FAILED).put("callId", r.callId()).put("error", "unknown tool " + r.name()));
        } else if (approval) {
          emit(event(TOOL_AWAITING_APPROVAL).put("callId", r.callId()));
        } else {
          toRun.add(new JsonObject().put("callId", r.callId()));
        }
      }
      requested.clear();
      tail.onSuccess(v -> {
        for (JsonObject run : toRun) {
          runTool(state.tool(run.getString("callId")));
        }
        continueIfToolsDone();
        updateActive();
        saveNow();
      });
    }

    @Override
    public void failed(Throwable cause) {
      if (halted) {
        return;
      }
      flush();
      if (resumes < MAX_RESUMES) {
        resumes++;
        log.info("session {}: model call failed ({}); resuming the turn ({} of {})", sessionId, cause.getMessage(),
            resumes, MAX_RESUMES);
        tail.onSuccess(v -> {
          if (halted) {
            return;
          }
          String partial = state.partialAnswer();
          emit(event(GENERATION_RESUMED).put("turn", turn).put("messageId", assistantId)
              .put("afterChars", partial.length()).put("reason", "upstream_error"));
          services.metrics().generation("resumed", "upstream_error");
          call(partial);
        });
        return;
      }
      if (assistantId != null) {
        emit(event(ASSISTANT_END).put("messageId", assistantId).put("finishReason", "error"));
        assistantId = null;
      }
      services.metrics().generation("failed", null);
      emit(event(GENERATION_FAILED).put("turn", turn).put("error", publicReason(cause))).onSuccess(v -> {
        if (generation == this) {
          generation = null;
        }
        updateActive();
        saveNow();
      });
    }

    /** Stops the model call; buffered text stays for {@link #flush}. */
    void halt() {
      halted = true;
      if (call != null) {
        call.cancel();
      }
      if (flushTimer >= 0) {
        vertx.cancelTimer(flushTimer);
        flushTimer = -1;
      }
    }
  }

  /**
   * What readers of the session learn of a failed model call: the model's own summary of it, never a raw
   * exception message (which can name internal hosts, or carry an upstream's body).
   */
  static String publicReason(Throwable cause) {
    if (cause instanceof OpenAiChatModel.UpstreamException) {
      return cause.getMessage();
    }
    return "the model call failed";
  }

  /** When every tool call of the current turn has an outcome, the model continues with the results. */
  private void continueIfToolsDone() {
    Conversation c = state;
    if (!c.generation().equals(Conversation.WAITING_FOR_TOOLS)) {
      return;
    }
    for (JsonObject tool : c.toolsOfTurn(c.turn())) {
      String s = tool.getString("state");
      if (!s.equals(Conversation.TOOL_COMPLETED_STATE) && !s.equals(Conversation.TOOL_FAILED_STATE)
          && !s.equals(Conversation.DENIED)) {
        return;
      }
    }
    int turn = c.turn();
    emit(event(GENERATION_RESUMED).put("turn", turn).put("afterChars", 0).put("reason", "tool_results")).onSuccess(v -> {
      Generation g = generation != null && generation.turn == turn ? generation : new Generation(turn, 0);
      generation = g;
      g.halted = false;
      g.call("");
      updateActive();
    });
  }

  private void runTool(JsonObject tool) {
    if (tool == null) {
      return;
    }
    String callId = tool.getString("callId");
    String executor = tool.getString("executor", "none");
    emit(event(TOOL_RUNNING).put("callId", callId).put("executor", executor));
    if (executor.equals("client")) {
      return;
    }
    Future<Object> outcome = executor.equals("builtin") ? builtin(tool) : webhook(tool);
    outcome.onComplete(ar -> {
      if (stopped) {
        return;
      }
      JsonObject current = state.tool(callId);
      if (current == null || !Conversation.TOOL_RUNNING_STATE.equals(current.getString("state"))) {
        return; // stopped or answered meanwhile
      }
      services.metrics().toolCall(ar.succeeded() ? "completed" : "failed");
      emit(ar.succeeded() ? event(TOOL_COMPLETED).put("callId", callId).put("result", ar.result())
          : event(TOOL_FAILED).put("callId", callId).put("error", String.valueOf(ar.cause().getMessage())))
          .onSuccess(v -> {
            continueIfToolsDone();
            saveNow();
          });
    });
  }

  /** The demo tool of the simulated model. */
  private Future<Object> builtin(JsonObject tool) {
    Promise<Object> promise = Promise.promise();
    JsonObject args;
    try {
      args = new JsonObject(tool.getString("arguments", "{}"));
    } catch (RuntimeException e) {
      return Future.failedFuture("arguments are not a JSON object");
    }
    String city = args.getString("city", "Paris");
    vertx.setTimer(200, t -> promise.complete(new JsonObject().put("city", city).put("forecast", "sunny")
        .put("celsius", 18 + Math.floorMod(city.hashCode(), 10)).encode()));
    return promise.future();
  }

  /** POSTs the call to the app's backend; its 2xx body (JSON or text) is the result. */
  private Future<Object> webhook(JsonObject tool) {
    String url = services.config().toolWebhookUrl();
    if (url.isEmpty()) {
      return Future.failedFuture("no TETHER_TOOL_WEBHOOK_URL is configured");
    }
    URI uri = URI.create(url);
    boolean tls = "https".equalsIgnoreCase(uri.getScheme());
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(uri.getHost())
        .setPort(uri.getPort() > 0 ? uri.getPort() : (tls ? 443 : 80)).setSsl(tls)
        .setURI(uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        .setTimeout(services.config().toolTimeoutMillis())
        .putHeader("Content-Type", "application/json")
        .putHeader("Idempotency-Key", sessionId + ":" + tool.getString("callId"));
    if (!services.config().toolWebhookToken().isEmpty()) {
      options.putHeader("Authorization", "Bearer " + services.config().toolWebhookToken());
    }
    JsonObject body = new JsonObject().put("sessionId", sessionId).put("callId", tool.getString("callId"))
        .put("name", tool.getString("name")).put("arguments", tool.getString("arguments"));
    return services.webhookClient().request(options)
        .compose(req -> req.send(body.toBuffer()))
        .compose(resp -> resp.body().compose(b -> resp.statusCode() / 100 == 2
            ? Future.succeededFuture((Object) b.toString(StandardCharsets.UTF_8))
            : Future.failedFuture("webhook answered " + resp.statusCode())));
  }

  // ------------------------------------------------------------------------------------ appends

  /**
   * Appends one event after those already queued; the conversation applies it once it is replicated.
   * A refused or failed append means this owner lost the stream: it stops here.
   */
  private Future<Void> emit(JsonObject event) {
    return emitTogether(List.of(event));
  }

  /**
   * Appends {@code events} as one stream event (a JSON batch): a reader, and the next owner, sees all of
   * them or none.
   */
  private Future<Void> emitTogether(List<JsonObject> events) {
    List<byte[]> messages = new ArrayList<>();
    for (JsonObject event : events) {
      event.getMap().values().removeIf(java.util.Objects::isNull);
      messages.add(event.encode().getBytes(StandardCharsets.UTF_8));
    }
    byte[] payload = JsonBatch.join(messages);
    Promise<Void> done = Promise.promise();
    tail = tail.compose(v -> {
      if (stopped) {
        return Future.failedFuture("session owner stopped");
      }
      return owner.append(payload);
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
        stop();
        owner.retire("session append failed");
      }
      done.handle(ar);
    }).recover(e -> Future.failedFuture(e));
    return done.future();
  }

  // ------------------------------------------------------------------------------------ persistence

  private void updateActive() {
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
    io.tether.config.TetherConfig config = services.config();
    if (eventsSinceSave >= Math.max(1, config.ringMaxEvents() / 4) || bytesSinceSave >= config.ringMaxBytes() / 4) {
      saveNow();
    }
  }

  private void saveSoon() {
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
  private void saveNow() {
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

  private static String shortId() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 16);
  }
}
