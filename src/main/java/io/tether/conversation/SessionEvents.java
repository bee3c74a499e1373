package io.tether.conversation;

import io.vertx.core.json.JsonObject;

/**
 * The event types of a session stream (see {@code docs/conversation.md}). Every event is one JSON
 * object with a {@code type} and the time it was appended ({@code at}, epoch milliseconds).
 */
public final class SessionEvents {

  public static final String SESSION_CREATED = "session.created";
  public static final String USER_MESSAGE = "user.message";
  public static final String ASSISTANT_START = "assistant.start";
  public static final String ASSISTANT_DELTA = "assistant.delta";
  public static final String ASSISTANT_END = "assistant.end";
  public static final String TOOL_REQUESTED = "tool.requested";
  public static final String TOOL_AWAITING_APPROVAL = "tool.awaiting_approval";
  public static final String TOOL_APPROVED = "tool.approved";
  public static final String TOOL_DENIED = "tool.denied";
  public static final String TOOL_RUNNING = "tool.running";
  public static final String TOOL_COMPLETED = "tool.completed";
  public static final String TOOL_FAILED = "tool.failed";
  public static final String GENERATION_STARTED = "generation.started";
  public static final String GENERATION_STOPPED = "generation.stopped";
  public static final String GENERATION_FAILED = "generation.failed";
  public static final String GENERATION_RESUMED = "generation.resumed";
  public static final String GENERATION_COMPLETED = "generation.completed";
  public static final String DEVICE_JOINED = "device.joined";
  public static final String DEVICE_LEFT = "device.left";

  private SessionEvents() {
  }

  /** A new event of {@code type}, stamped with the current time. */
  public static JsonObject event(String type) {
    return new JsonObject().put("type", type).put("at", System.currentTimeMillis());
  }
}
