package io.tether.conversation;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.tether.conversation.SessionEvents.ASSISTANT_DELTA;
import static io.tether.conversation.SessionEvents.ASSISTANT_END;
import static io.tether.conversation.SessionEvents.ASSISTANT_START;
import static io.tether.conversation.SessionEvents.GENERATION_COMPLETED;
import static io.tether.conversation.SessionEvents.GENERATION_FAILED;
import static io.tether.conversation.SessionEvents.GENERATION_RESUMED;
import static io.tether.conversation.SessionEvents.TOOL_AWAITING_APPROVAL;
import static io.tether.conversation.SessionEvents.TOOL_FAILED;
import static io.tether.conversation.SessionEvents.TOOL_REQUESTED;
import static io.tether.conversation.SessionEvents.event;

/**
 * One turn's generation on this owner: the model call (resumed from the text already delivered after an
 * upstream failure, up to {@link #MAX_RESUMES} times), its text coalesced into {@code assistant.delta}
 * events, and the tool calls it requests, each appended with what it awaits (an approval, a client, or
 * the server running it).
 */
final class TurnGeneration implements ChatModel.ModelSink {

  private static final Logger log = LoggerFactory.getLogger(TurnGeneration.class);
  /** Resumptions of one turn after upstream failures, before the turn fails. */
  static final int MAX_RESUMES = 3;

  /** What the generation asks of the session it runs in. */
  interface Session {
    /** The generation ended (completed or failed): it is no longer the session's current one. */
    void ended(TurnGeneration generation);

    /** Runs a tool the server executes. */
    void runTool(JsonObject tool);

    /** The model continues once every tool call of the turn has an outcome. */
    void continueIfToolsDone();
  }

  final int turn;
  private final Session session;
  private final SessionJournal journal;
  private final ConversationServices services;
  private final Vertx vertx;
  private final String sessionId;
  private int resumes;
  private String assistantId;
  private ChatModel.ModelCall call;
  private final StringBuilder buffer = new StringBuilder();
  private final List<ChatModel.ToolCallRequest> requested = new ArrayList<>();
  private long flushTimer = -1;
  /** Text waits for the append in flight: it goes out, as one delta, when the journal is idle again. */
  private boolean flushWhenIdle;
  private boolean halted;
  private int callSerial;
  private long calledAt;
  private boolean firstSeen;

  TurnGeneration(Session session, SessionJournal journal, ConversationServices services, Vertx vertx,
                 String sessionId, int turn) {
    this.session = session;
    this.journal = journal;
    this.services = services;
    this.vertx = vertx;
    this.sessionId = sessionId;
    this.turn = turn;
  }

  /** Continues the answer of a message whose assistant message is already open (after a restore). */
  void continueAnswer(String openAssistantId) {
    assistantId = openAssistantId;
  }

  /** Text is waiting to be appended (the coalescing timer runs, or it waits for the append in flight). */
  boolean flushing() {
    return flushTimer >= 0 || flushWhenIdle;
  }

  /** Calls the model, continuing after {@code partial} (the answer's text already delivered). */
  void call(String partial) {
    halted = false;
    Conversation c = journal.state();
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
          TurnGeneration.this.text(delta);
        }
      }

      @Override
      public void toolCall(ChatModel.ToolCallRequest toolCall) {
        if (serial == callSerial) {
          TurnGeneration.this.toolCall(toolCall);
        }
      }

      @Override
      public void finished(String finishReason) {
        if (serial == callSerial) {
          TurnGeneration.this.finished(finishReason);
        }
      }

      @Override
      public void failed(Throwable cause) {
        if (serial == callSerial) {
          TurnGeneration.this.failed(cause);
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
    if (flushTimer < 0 && !flushWhenIdle) {
      flushTimer = vertx.setTimer(Math.max(1, services.config().coalesceMillis()), t -> {
        flushTimer = -1;
        flushUnlessWriting();
      });
    }
  }

  /**
   * Appends the buffered text now if no append of this session is in flight, else once they are all in.
   * So one delta at most is in flight per answer, and the text that arrives meanwhile goes out as one:
   * when appends slow down (a loaded node, a slow backup) the deltas grow instead of queueing, and a
   * session never has more appends waiting than it has ready to send.
   */
  private void flushUnlessWriting() {
    if (!journal.writing()) {
      flush();
      return;
    }
    flushWhenIdle = true;
    journal.afterAll(() -> {
      flushWhenIdle = false;
      if (!halted && !journal.stopped()) {
        flush();
      }
    });
  }

  private void openAssistant() {
    if (assistantId == null) {
      assistantId = "a_" + shortId();
      journal.emit(event(ASSISTANT_START).put("messageId", assistantId).put("turn", turn));
    }
  }

  /** Appends the text buffered so far. */
  void flush() {
    if (flushTimer >= 0) {
      vertx.cancelTimer(flushTimer);
      flushTimer = -1;
    }
    if (buffer.length() > 0 && assistantId != null) {
      journal.emit(event(ASSISTANT_DELTA).put("messageId", assistantId).put("text", buffer.toString()));
      buffer.setLength(0);
      journal.saveSoon();
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
      JsonObject end = event(ASSISTANT_END).put("messageId", assistantId)
          .put("finishReason", requested.isEmpty() ? finishReason : "tool_calls");
      if (!requested.isEmpty()) {
        // How many tool.requested events follow: a client knows when it has seen all of them.
        end.put("toolCalls", requested.size());
      }
      journal.emit(end);
    }
    String message = assistantId;
    assistantId = null;
    if (requested.isEmpty()) {
      services.metrics().generation("completed", null);
      journal.emit(event(GENERATION_COMPLETED).put("turn", turn)).onSuccess(v -> session.ended(this));
      return;
    }
    List<JsonObject> toRun = new ArrayList<>();
    for (ChatModel.ToolCallRequest r : requested) {
      Tools.Tool tool = services.tools().get(r.name());
      boolean approval = tool == null || tool.approval();
      String executor = tool == null ? "none" : tool.executor();
      journal.emit(event(TOOL_REQUESTED).put("callId", r.callId()).put("messageId", message).put("turn", turn)
          .put("name", r.name()).put("arguments", r.arguments()).put("approval", approval).put("executor", executor));
      if (tool == null) {
        journal.emit(event(TOOL_FAILED).put("callId", r.callId()).put("error", "unknown tool " + r.name()));
      } else if (approval) {
        journal.emit(event(TOOL_AWAITING_APPROVAL).put("callId", r.callId()));
      } else {
        toRun.add(new JsonObject().put("callId", r.callId()));
      }
    }
    requested.clear();
    journal.afterQueued(() -> {
      for (JsonObject run : toRun) {
        session.runTool(journal.state().tool(run.getString("callId")));
      }
      session.continueIfToolsDone();
      journal.updateActive();
      journal.saveNow();
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
      journal.afterQueued(() -> {
        if (halted) {
          return;
        }
        String partial = journal.state().partialAnswer();
        journal.emit(event(GENERATION_RESUMED).put("turn", turn).put("messageId", assistantId)
            .put("afterChars", partial.length()).put("reason", "upstream_error"));
        services.metrics().generation("resumed", "upstream_error");
        call(partial);
      });
      return;
    }
    if (assistantId != null) {
      journal.emit(event(ASSISTANT_END).put("messageId", assistantId).put("finishReason", "error"));
      assistantId = null;
    }
    services.metrics().generation("failed", null);
    journal.emit(event(GENERATION_FAILED).put("turn", turn).put("error", publicReason(cause)))
        .onSuccess(v -> session.ended(this));
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

  static String shortId() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 16);
  }
}
