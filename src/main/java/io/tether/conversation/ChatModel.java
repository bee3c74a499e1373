package io.tether.conversation;

/**
 * A streaming chat-completion model: the built-in {@link SimulatedModel} or an OpenAI-compatible
 * endpoint ({@link OpenAiChatModel}). A call reports text and tool calls to its {@link ModelSink} as
 * they arrive, on the Vert.x context that started it, and ends with exactly one of
 * {@link ModelSink#finished} or {@link ModelSink#failed} unless it is cancelled first.
 */
public interface ChatModel {

  /** Starts one completion; the returned handle cancels it (closing the upstream request). */
  ModelCall stream(ChatRequest request, ModelSink sink);

  /** A human-readable name for events and logs. */
  String name();

  /** A running completion. */
  interface ModelCall {
    /** Stops the completion; no sink method is called afterwards. Idempotent. */
    void cancel();
  }

  /** What a running completion reports. */
  interface ModelSink {
    /** A piece of the assistant's answer. */
    void text(String delta);

    /** The model asks for a tool; reported once the call is complete (name and arguments known). */
    void toolCall(ToolCallRequest call);

    /** The completion ended; {@code finishReason} as the model gave it ({@code stop}, {@code tool_calls}, ...). */
    void finished(String finishReason);

    /** The completion failed after its retries. */
    void failed(Throwable cause);
  }

  /** A tool call as the model requested it. */
  record ToolCallRequest(String callId, String name, String arguments) {
  }
}
