package io.tether.conversation;

import io.vertx.core.json.JsonObject;

/**
 * A command for a session's owner, as JSON: {@code {"type":"message","text":...}}, {@code stop},
 * {@code approve}, {@code deny}, {@code tool_result}, {@code snapshot}, {@code resume}, {@code presence}.
 * The answer is {@link Result}: an HTTP-like status and a JSON body (an error body for refusals).
 */
public final class SessionCommand {

  public static final String MESSAGE = "message";
  public static final String STOP = "stop";
  public static final String APPROVE = "approve";
  public static final String DENY = "deny";
  public static final String TOOL_RESULT = "tool_result";
  public static final String SNAPSHOT = "snapshot";
  public static final String RESUME = "resume";
  public static final String PRESENCE = "presence";

  private SessionCommand() {
  }

  /** The answer to a command. */
  public record Result(int status, JsonObject body) {

    public static Result ok(JsonObject body) {
      return new Result(200, body);
    }

    public static Result error(int status, String code, String message) {
      return new Result(status, new JsonObject().put("error", new JsonObject().put("code", code).put("message", message)));
    }

    public static Result parse(String json) {
      JsonObject o = new JsonObject(json);
      return new Result(o.getInteger("status"), o.getJsonObject("body"));
    }

    public String encode() {
      return new JsonObject().put("status", status).put("body", body).encode();
    }
  }
}
