package io.tether.conversation;

import io.tether.cluster.owner.OwnerCompanion;
import io.tether.cluster.owner.OwnerHandle;
import io.tether.conversation.SessionCommand.Result;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

import static io.tether.conversation.SessionEvents.*;

/**
 * The conversation logic of one session, running beside the session stream's owner, on its context,
 * for as long as that owner owns the stream. It takes the session's commands (messages, stop, tool
 * decisions and results, presence) and carries its work, in four parts: the {@link SessionJournal}
 * (the conversation, the only writer of the stream, the snapshot), the {@link TurnGeneration} of the
 * current turn, the {@link ToolRunner} and the devices' {@link SessionPresence}.
 *
 * <p>On start it rebuilds the {@link Conversation} from the saved snapshot plus the events after it,
 * then resumes work in progress: a generation cut by the loss of the previous owner continues from the
 * text already delivered (marked by a {@code generation.resumed} event), an approved tool runs again.
 */
public final class SessionCompanion implements OwnerCompanion, TurnGeneration.Session {

  private static final Logger log = LoggerFactory.getLogger(SessionCompanion.class);
  /** Devices tracked per session (see {@link SessionPresence}). */
  static final int MAX_DEVICES = SessionPresence.MAX_DEVICES;

  private final OwnerHandle owner;
  private final ConversationServices services;
  private final Vertx vertx;
  private final String sessionId;
  private final SessionJournal journal;
  private final SessionPresence presence;
  private final ToolRunner tools;

  private boolean started;
  private boolean stopped;
  private final List<Runnable> waiting = new ArrayList<>();
  private TurnGeneration generation;

  public SessionCompanion(OwnerHandle owner, ConversationServices services, Vertx vertx) {
    this.owner = owner;
    this.services = services;
    this.vertx = vertx;
    this.sessionId = SessionIds.sessionOf(owner.stream());
    this.journal = new SessionJournal(owner, services, vertx, sessionId, this::stop);
    this.presence = new SessionPresence(journal, vertx, services.config().leaseSeconds() * 3000L);
    this.tools = new ToolRunner(journal, services, vertx, sessionId);
  }

  // ------------------------------------------------------------------------------------ lifecycle

  @Override
  public void start() {
    journal.restore().onComplete(ar -> {
      if (stopped) {
        return;
      }
      if (ar.failed()) {
        log.error("session {}: cannot restore its state: {}", sessionId, ar.cause().getMessage());
        owner.retire("session state could not be restored");
        return;
      }
      started = true;
      presence.restore();
      List<Runnable> queued = new ArrayList<>(waiting);
      waiting.clear();
      resumeWork();
      queued.forEach(Runnable::run);
    });
  }

  @Override
  public void stop() {
    stopped = true;
    journal.stop();
    presence.stop();
    if (generation != null) {
      generation.halt();
      generation = null;
    }
  }

  /** Lapsed presence leases, from the owner's periodic sweep (no timer of its own). */
  @Override
  public void sweep(long now) {
    if (started && !stopped) {
      presence.expire();
      if (!busyExceptSnapshot() && journal.hasUnsavedEvents()) {
        // About to go idle: save the snapshot, so that the next owner restores from here quickly.
        journal.saveNow();
      }
    }
  }

  @Override
  public boolean busy() {
    return busyExceptSnapshot() || journal.unsaved();
  }

  /**
   * Work only this owner can carry on: restoring, commands or appends in flight, a generation or a tool
   * it runs ({@link SessionJournal#updateActive}'s marker), devices present or presence events owed.
   * Waiting for a human decision or a client's tool result is not work.
   */
  private boolean busyExceptSnapshot() {
    return !started || !waiting.isEmpty() || journal.writing() || journal.markedActive() || presence.busy()
        || (generation != null && generation.flushing());
  }

  // ------------------------------------------------------------------------------------ commands

  @Override
  public Future<String> command(String json) {
    Promise<String> reply = Promise.promise();
    Runnable run = () -> journal.afterAll(() -> {
      if (stopped) {
        // Not handled here: the owner answers MOVED and the router delivers it to the new owner.
        reply.fail(new OwnerCompanion.Stopped());
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
    Conversation c = journal.state();
    String device = command.getString("device");
    switch (command.getString("type", "")) {
      case SessionCommand.SNAPSHOT:
        return Future.succeededFuture(Result.ok(c.toJson()));
      case SessionCommand.RESUME:
        return Future.succeededFuture(Result.ok(new JsonObject().put("generation", c.generation())));
      case SessionCommand.PRESENCE:
        return presence.report(device, command.getString("node", ""), "join".equals(command.getString("state")));
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
    Conversation c = journal.state();
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
    String id = messageId != null ? messageId : "m_" + TurnGeneration.shortId();
    int turn = c.turn() + 1;
    // One append: a new owner never finds the message without its generation (a retry of the message
    // would then be answered as a duplicate and the turn never answered).
    Future<Void> startedEvent = journal.emitTogether(List.of(
        event(USER_MESSAGE).put("messageId", id).put("turn", turn).put("text", text).put("device", device),
        event(GENERATION_STARTED).put("turn", turn).put("model", services.model().name())));
    return startedEvent.map(v -> {
      generation = newGeneration(turn);
      generation.call("");
      services.metrics().generation("started", null);
      journal.updateActive();
      return Result.ok(new JsonObject().put("messageId", id).put("turn", turn).put("offset", journal.state().offset()));
    });
  }

  private Future<Result> stopGeneration(String device) {
    Conversation c = journal.state();
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
      journal.emit(event(ASSISTANT_END).put("messageId", c.assistantId()).put("finishReason", "stopped"));
    }
    services.metrics().generation("stopped", null);
    return journal.emit(event(GENERATION_STOPPED).put("turn", turn).put("device", device)).map(v -> {
      journal.updateActive();
      journal.saveNow();
      return Result.ok(new JsonObject().put("turn", turn).put("offset", journal.state().offset()));
    });
  }

  private Future<Result> decide(String callId, boolean approve, String reason, String device) {
    Conversation c = journal.state();
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
    Future<Void> done = journal.emit(approve
        ? event(TOOL_APPROVED).put("callId", callId).put("device", device)
        : event(TOOL_DENIED).put("callId", callId).put("device", device).put("reason", reason));
    return done.map(v -> {
      if (approve) {
        runTool(journal.state().tool(callId));
      } else {
        continueIfToolsDone();
      }
      journal.updateActive();
      journal.saveNow();
      return Result.ok(new JsonObject().put("callId", callId).put("state", decided).put("offset", journal.state().offset()));
    });
  }

  private Future<Result> toolResult(String callId, Object result, String error, String device) {
    Conversation c = journal.state();
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
    return journal.emit(e.put("device", device)).map(v -> {
      continueIfToolsDone();
      journal.saveNow();
      return Result.ok(new JsonObject().put("callId", callId).put("offset", journal.state().offset()));
    });
  }

  // ------------------------------------------------------------------------------------ generation

  /** After a restore: continue what the previous owner was doing. */
  private void resumeWork() {
    Conversation c = journal.state();
    String ended = c.endedAnswerReason();
    if (ended != null && !ended.equals("tool_calls")) {
      // The answer was whole; only the event closing the turn was lost with the previous owner.
      closeEndedTurn(c.turn(), ended);
    } else if (c.generation().equals(Conversation.RUNNING)) {
      int turn = c.turn();
      String partial = c.partialAnswer();
      journal.emit(event(GENERATION_RESUMED).put("turn", turn).put("messageId", c.assistantId())
          .put("afterChars", partial.length()).put("reason", "owner_changed"));
      services.metrics().generation("resumed", "owner_changed");
      generation = newGeneration(turn);
      generation.continueAnswer(c.assistantId());
      generation.call(partial);
    } else if (c.generation().equals(Conversation.WAITING_FOR_TOOLS)) {
      generation = newGeneration(c.turn());
      for (JsonObject tool : c.toolsOfTurn(c.turn())) {
        String s = tool.getString("state");
        if (s.equals(Conversation.REQUESTED) && tool.getBoolean("approval", false)) {
          // Its awaiting-approval event was lost with the previous owner: it still needs a decision.
          journal.emit(event(TOOL_AWAITING_APPROVAL).put("callId", tool.getString("callId")));
        } else if ((s.equals(Conversation.APPROVED) || s.equals(Conversation.REQUESTED)
            || s.equals(Conversation.TOOL_RUNNING_STATE)) && !"client".equals(tool.getString("executor"))) {
          runTool(tool);
        }
      }
      continueIfToolsDone();
    }
    journal.updateActive();
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
    journal.emit(closing.put("turn", turn)).onSuccess(v -> {
      journal.updateActive();
      journal.saveNow();
    });
  }

  /** When every tool call of the current turn has an outcome, the model continues with the results. */
  @Override
  public void continueIfToolsDone() {
    Conversation c = journal.state();
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
    journal.emit(event(GENERATION_RESUMED).put("turn", turn).put("afterChars", 0).put("reason", "tool_results")).onSuccess(v -> {
      TurnGeneration g = generation != null && generation.turn == turn ? generation : newGeneration(turn);
      generation = g;
      g.call("");
      journal.updateActive();
    });
  }

  @Override
  public void runTool(JsonObject tool) {
    tools.run(tool, () -> {
      continueIfToolsDone();
      journal.saveNow();
    });
  }

  @Override
  public void ended(TurnGeneration finished) {
    if (generation == finished) {
      generation = null;
    }
    journal.updateActive();
    journal.saveNow();
  }

  private TurnGeneration newGeneration(int turn) {
    return new TurnGeneration(this, journal, services, vertx, sessionId, turn);
  }
}
