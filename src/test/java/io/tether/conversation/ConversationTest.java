package io.tether.conversation;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tether.conversation.SessionEvents.*;
import static org.assertj.core.api.Assertions.assertThat;

/** The fold of a session's events into its snapshot and into the messages sent to the model. */
class ConversationTest {

  private static JsonObject e(String type) {
    return new JsonObject().put("type", type);
  }

  private static Conversation afterAToolTurn() {
    Conversation c = new Conversation("s1");
    c.apply(e(USER_MESSAGE).put("messageId", "m1").put("turn", 1).put("text", "weather in Oslo?"), "o1");
    c.apply(e(GENERATION_STARTED).put("turn", 1), "o2");
    c.apply(e(ASSISTANT_START).put("messageId", "a1").put("turn", 1), "o3");
    c.apply(e(ASSISTANT_DELTA).put("messageId", "a1").put("text", "Let me "), "o4");
    c.apply(e(ASSISTANT_DELTA).put("messageId", "a1").put("text", "check."), "o5");
    c.apply(e(ASSISTANT_END).put("messageId", "a1").put("finishReason", "tool_calls"), "o6");
    c.apply(e(TOOL_REQUESTED).put("callId", "c1").put("messageId", "a1").put("turn", 1).put("name", "get_weather")
        .put("arguments", "{\"city\":\"Oslo\"}").put("approval", true).put("executor", "builtin"), "o7");
    c.apply(e(TOOL_AWAITING_APPROVAL).put("callId", "c1"), "o8");
    return c;
  }

  @Test
  void deltasConcatenateIntoTheirMessageAndTheOffsetFollowsTheLastEvent() {
    Conversation c = afterAToolTurn();
    assertThat(c.message("a1").getString("text")).isEqualTo("Let me check.");
    assertThat(c.offset()).isEqualTo("o8");
    assertThat(c.eventCount()).isEqualTo(8);
    assertThat(c.generation()).isEqualTo(Conversation.WAITING_FOR_TOOLS);
    assertThat(c.tool("c1").getString("state")).isEqualTo(Conversation.AWAITING_APPROVAL);
  }

  @Test
  void theModelSeesTheAssistantsToolCallsAndTheirResults() {
    Conversation c = afterAToolTurn();
    c.apply(e(TOOL_DENIED).put("callId", "c1").put("device", "phone").put("reason", "not now"), "o9");
    List<JsonObject> messages = c.modelMessages("be brief");
    assertThat(messages).extracting(m -> m.getString("role")).containsExactly("system", "user", "assistant", "tool");
    assertThat(messages.get(2).getJsonArray("tool_calls").getJsonObject(0).getString("id")).isEqualTo("c1");
    assertThat(messages.get(3).getString("tool_call_id")).isEqualTo("c1");
    assertThat(messages.get(3).getString("content")).isEqualTo("The user denied this tool call: not now");
  }

  @Test
  void theAnswerBeingWrittenIsThePartialAnswerNotAModelMessage() {
    Conversation c = new Conversation("s1");
    c.apply(e(USER_MESSAGE).put("messageId", "m1").put("turn", 1).put("text", "hi"), "o1");
    c.apply(e(GENERATION_STARTED).put("turn", 1), "o2");
    c.apply(e(ASSISTANT_START).put("messageId", "a1").put("turn", 1), "o3");
    c.apply(e(ASSISTANT_DELTA).put("messageId", "a1").put("text", "Hel"), "o4");
    assertThat(c.partialAnswer()).isEqualTo("Hel");
    assertThat(c.modelMessages(null)).extracting(m -> m.getString("role")).containsExactly("user");
    assertThat(c.generating()).isTrue();
  }

  @Test
  void stoppingATurnClosesItsMessageAndCancelsItsOpenToolCalls() {
    Conversation c = afterAToolTurn();
    c.apply(e(GENERATION_STOPPED).put("turn", 1).put("device", "phone"), "o9");
    assertThat(c.generation()).isEqualTo(Conversation.STOPPED);
    assertThat(c.tool("c1").getString("state")).isEqualTo("cancelled");
    assertThat(c.generating()).isFalse();
  }

  @Test
  void theSnapshotRoundTripsThroughJson() {
    Conversation c = afterAToolTurn();
    c.apply(e(DEVICE_JOINED).put("device", "phone"), "o9");
    Conversation copy = Conversation.fromJson(c.toJson());
    assertThat(copy.toJson()).isEqualTo(c.toJson());
    assertThat(copy.devices()).containsExactly("phone");
    copy.apply(e(DEVICE_LEFT).put("device", "phone"), "o10");
    assertThat(copy.devices()).isEmpty();
  }
}
