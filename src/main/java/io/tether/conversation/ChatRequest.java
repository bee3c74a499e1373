package io.tether.conversation;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * One completion request in the OpenAI chat format.
 *
 * @param messages      the conversation so far ({@code role}, {@code content}, and tool-call fields)
 * @param tools         the tools the model may call, as OpenAI {@code tools} entries
 * @param partialAnswer text of the assistant answer already delivered in this turn, which the model
 *                      must continue rather than repeat (empty for a fresh turn); sent as a trailing
 *                      assistant message
 */
public record ChatRequest(List<JsonObject> messages, JsonArray tools, String partialAnswer) {

  public ChatRequest {
    messages = List.copyOf(messages);
    partialAnswer = partialAnswer == null ? "" : partialAnswer;
  }

  /** The last user message's text, or empty. */
  public String lastUserText() {
    for (int i = messages.size() - 1; i >= 0; i--) {
      JsonObject m = messages.get(i);
      if ("user".equals(m.getString("role"))) {
        return m.getString("content", "");
      }
    }
    return "";
  }

  /** Tool results after the last user message, in order. */
  public List<JsonObject> toolResultsSinceLastUser() {
    int from = 0;
    for (int i = messages.size() - 1; i >= 0; i--) {
      if ("user".equals(messages.get(i).getString("role"))) {
        from = i + 1;
        break;
      }
    }
    return messages.subList(from, messages.size()).stream().filter(m -> "tool".equals(m.getString("role"))).toList();
  }

  /** The request body for an OpenAI-compatible {@code /chat/completions} endpoint. */
  public JsonObject toOpenAi(String model) {
    JsonArray all = new JsonArray();
    messages.forEach(all::add);
    if (!partialAnswer.isEmpty()) {
      all.add(new JsonObject().put("role", "assistant").put("content", partialAnswer));
    }
    JsonObject body = new JsonObject().put("model", model).put("stream", true).put("messages", all);
    if (tools != null && !tools.isEmpty()) {
      body.put("tools", tools);
    }
    return body;
  }
}
