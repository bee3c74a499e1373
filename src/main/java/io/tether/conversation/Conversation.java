package io.tether.conversation;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.tether.conversation.SessionEvents.*;

/**
 * The materialised state of one session: what a late joiner needs instead of the whole event history.
 * It is a pure fold of the session's events ({@link #apply}); the owner keeps one in memory, serves it as
 * the snapshot, and saves it with the offset it reflects so a new owner (or a client whose offset left
 * the ring) continues from there.
 */
public final class Conversation {

  /** Generation states. */
  public static final String IDLE = "idle";
  public static final String RUNNING = "running";
  public static final String WAITING_FOR_TOOLS = "waiting_for_tools";
  public static final String STOPPED = "stopped";
  public static final String FAILED = "failed";
  public static final String COMPLETED = "completed";

  /** Tool-call states. */
  public static final String AWAITING_APPROVAL = "awaiting_approval";
  public static final String REQUESTED = "requested";
  public static final String APPROVED = "approved";
  public static final String DENIED = "denied";
  public static final String TOOL_RUNNING_STATE = "running";
  public static final String TOOL_COMPLETED_STATE = "completed";
  public static final String TOOL_FAILED_STATE = "failed";

  private final String sessionId;
  private final List<JsonObject> messages = new ArrayList<>();
  private final Map<String, JsonObject> tools = new LinkedHashMap<>();
  private final Set<String> devices = new LinkedHashSet<>();
  private int turn;
  private String generation = IDLE;
  private String assistantId;
  private String offset;
  private long events;

  public Conversation(String sessionId) {
    this.sessionId = sessionId;
  }

  public String sessionId() {
    return sessionId;
  }

  /** The offset after the last applied event ({@code null} before any). */
  public String offset() {
    return offset;
  }

  public int turn() {
    return turn;
  }

  public String generation() {
    return generation;
  }

  /** The assistant message being written in the current turn, or {@code null}. */
  public String assistantId() {
    return assistantId;
  }

  public long eventCount() {
    return events;
  }

  public boolean generating() {
    return generation.equals(RUNNING) || generation.equals(WAITING_FOR_TOOLS);
  }

  public JsonObject message(String id) {
    for (int i = messages.size() - 1; i >= 0; i--) {
      if (id.equals(messages.get(i).getString("id"))) {
        return messages.get(i);
      }
    }
    return null;
  }

  public JsonObject tool(String callId) {
    return tools.get(callId);
  }

  /** Tool calls of the current turn, in request order. */
  public List<JsonObject> toolsOfTurn(int turn) {
    return tools.values().stream().filter(t -> t.getInteger("turn", -1) == turn).toList();
  }

  public Set<String> devices() {
    return devices;
  }

  /** Applies one event; {@code next} is the stream offset after it. Unknown types are kept in the count only. */
  public void apply(JsonObject event, String next) {
    events++;
    offset = next;
    String type = event.getString("type", "");
    switch (type) {
      case USER_MESSAGE -> {
        turn = Math.max(turn, event.getInteger("turn", turn + 1));
        messages.add(new JsonObject().put("id", event.getString("messageId")).put("role", "user")
            .put("turn", turn).put("text", event.getString("text", "")).put("device", event.getString("device")));
      }
      case GENERATION_STARTED -> {
        generation = RUNNING;
        assistantId = null;
      }
      case ASSISTANT_START -> {
        assistantId = event.getString("messageId");
        messages.add(new JsonObject().put("id", assistantId).put("role", "assistant")
            .put("turn", event.getInteger("turn", turn)).put("text", "").put("complete", false));
      }
      case ASSISTANT_DELTA -> {
        JsonObject m = message(event.getString("messageId", ""));
        if (m != null) {
          m.put("text", m.getString("text", "") + event.getString("text", ""));
        }
      }
      case ASSISTANT_END -> {
        JsonObject m = message(event.getString("messageId", ""));
        if (m != null) {
          m.put("complete", true).put("finishReason", event.getString("finishReason"));
          if (event.containsKey("toolCalls")) {
            m.put("toolCalls", event.getInteger("toolCalls"));
          }
        }
        assistantId = null;
      }
      case TOOL_REQUESTED -> {
        tools.put(event.getString("callId"), new JsonObject()
            .put("callId", event.getString("callId"))
            .put("messageId", event.getString("messageId"))
            .put("turn", event.getInteger("turn", turn))
            .put("name", event.getString("name"))
            .put("arguments", event.getString("arguments"))
            .put("approval", event.getBoolean("approval", false))
            .put("executor", event.getString("executor"))
            .put("state", REQUESTED));
        generation = WAITING_FOR_TOOLS;
      }
      case TOOL_AWAITING_APPROVAL -> toolState(event, AWAITING_APPROVAL);
      case TOOL_APPROVED -> toolState(event, APPROVED).put("decidedBy", event.getString("device"));
      case TOOL_DENIED -> toolState(event, DENIED).put("decidedBy", event.getString("device"))
          .put("reason", event.getString("reason"));
      case TOOL_RUNNING -> toolState(event, TOOL_RUNNING_STATE);
      case TOOL_COMPLETED -> toolState(event, TOOL_COMPLETED_STATE).put("result", event.getValue("result"));
      case TOOL_FAILED -> toolState(event, TOOL_FAILED_STATE).put("error", event.getString("error"));
      case GENERATION_RESUMED -> generation = RUNNING;
      case GENERATION_STOPPED -> endTurn(STOPPED);
      case GENERATION_FAILED -> endTurn(FAILED);
      case GENERATION_COMPLETED -> endTurn(COMPLETED);
      case DEVICE_JOINED -> devices.add(event.getString("device"));
      case DEVICE_LEFT -> devices.remove(event.getString("device"));
      default -> {
      }
    }
  }

  private JsonObject toolState(JsonObject event, String state) {
    JsonObject tool = tools.computeIfAbsent(event.getString("callId", ""), k -> new JsonObject().put("callId", k));
    return tool.put("state", state);
  }

  private void endTurn(String state) {
    generation = state;
    if (assistantId != null) {
      JsonObject m = message(assistantId);
      if (m != null && !m.getBoolean("complete", false)) {
        m.put("complete", true).put("finishReason", state);
      }
    }
    assistantId = null;
    for (JsonObject tool : tools.values()) {
      String s = tool.getString("state");
      if (s.equals(REQUESTED) || s.equals(AWAITING_APPROVAL) || s.equals(APPROVED) || s.equals(TOOL_RUNNING_STATE)) {
        tool.put("state", "cancelled");
      }
    }
  }

  /**
   * The conversation in the OpenAI chat format, for the next completion: every message, the tool calls
   * an assistant message made and their results. The assistant message still being written is left out
   * (it is sent as the partial answer).
   */
  public List<JsonObject> modelMessages(String systemPrompt) {
    List<JsonObject> out = new ArrayList<>();
    if (systemPrompt != null && !systemPrompt.isEmpty()) {
      out.add(new JsonObject().put("role", "system").put("content", systemPrompt));
    }
    for (JsonObject m : messages) {
      String id = m.getString("id");
      if ("user".equals(m.getString("role"))) {
        out.add(new JsonObject().put("role", "user").put("content", m.getString("text")));
        continue;
      }
      if (id.equals(assistantId)) {
        continue;
      }
      List<JsonObject> calls = tools.values().stream().filter(t -> id.equals(t.getString("messageId"))).toList();
      JsonObject assistant = new JsonObject().put("role", "assistant").put("content", m.getString("text"));
      if (!calls.isEmpty()) {
        JsonArray toolCalls = new JsonArray();
        for (JsonObject call : calls) {
          toolCalls.add(new JsonObject().put("id", call.getString("callId")).put("type", "function")
              .put("function", new JsonObject().put("name", call.getString("name"))
                  .put("arguments", call.getString("arguments"))));
        }
        assistant.put("tool_calls", toolCalls);
      }
      out.add(assistant);
      for (JsonObject call : calls) {
        String result = switch (call.getString("state")) {
          case TOOL_COMPLETED_STATE -> String.valueOf(call.getValue("result"));
          case DENIED -> "The user denied this tool call" + (call.getString("reason") == null ? "." : ": " + call.getString("reason"));
          case TOOL_FAILED_STATE -> "The tool failed: " + call.getString("error");
          default -> null;
        };
        if (result != null) {
          out.add(new JsonObject().put("role", "tool").put("tool_call_id", call.getString("callId")).put("content", result));
        }
      }
    }
    return out;
  }

  /**
   * The finish reason of the current turn's answer when that answer has ended but the turn has not
   * (its last message is an assistant message of this turn that ended, and none is open): the turn's
   * closing event was not appended yet. {@code null} otherwise.
   */
  public String endedAnswerReason() {
    if (assistantId != null || messages.isEmpty() || !generation.equals(RUNNING)) {
      return null;
    }
    JsonObject last = messages.get(messages.size() - 1);
    if (!"assistant".equals(last.getString("role")) || last.getInteger("turn", -1) != turn
        || !last.getBoolean("complete", false)) {
      return null;
    }
    return last.getString("finishReason");
  }

  /** The text written so far of the assistant message in progress. */
  public String partialAnswer() {
    JsonObject m = assistantId == null ? null : message(assistantId);
    return m == null ? "" : m.getString("text", "");
  }

  /** The snapshot served by {@code GET /v1/sessions/{id}}. */
  public JsonObject toJson() {
    JsonObject out = new JsonObject()
        .put("sessionId", sessionId)
        .put("offset", offset)
        .put("turn", turn)
        .put("generation", new JsonObject().put("state", generation).put("messageId", assistantId))
        .put("messages", new JsonArray(messages.stream().map(JsonObject::copy).map(m -> (Object) m).toList()))
        .put("tools", new JsonArray(tools.values().stream().map(JsonObject::copy).map(m -> (Object) m).toList()))
        .put("devices", new JsonArray(new ArrayList<>(devices)))
        .put("eventCount", events);
    return out;
  }

  /** Rebuilds a conversation from {@link #toJson()}. */
  public static Conversation fromJson(JsonObject json) {
    Conversation c = new Conversation(json.getString("sessionId"));
    c.offset = json.getString("offset");
    c.turn = json.getInteger("turn", 0);
    JsonObject generation = json.getJsonObject("generation", new JsonObject());
    c.generation = generation.getString("state", IDLE);
    c.assistantId = generation.getString("messageId");
    json.getJsonArray("messages", new JsonArray()).forEach(m -> c.messages.add(((JsonObject) m).copy()));
    json.getJsonArray("tools", new JsonArray()).forEach(t -> {
      JsonObject tool = ((JsonObject) t).copy();
      c.tools.put(tool.getString("callId"), tool);
    });
    json.getJsonArray("devices", new JsonArray()).forEach(d -> c.devices.add((String) d));
    c.events = json.getLong("eventCount", 0L);
    return c;
  }
}
