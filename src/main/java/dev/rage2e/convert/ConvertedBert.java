package dev.rage2e.convert;

import dev.rage2e.model.BertConfig;
import dev.rage2e.weights.HostTensor;
import java.util.Map;

/**
 * A BERT read from a foreign format: its config, float32 tensors under Hugging Face {@code BertModel}
 * names (checked against the config), the {@code tokenizer.json} text, and where it came from.
 */
public record ConvertedBert(BertConfig config, Map<String, HostTensor> tensors, String tokenizerJson, String source) {
    public boolean hasPooler() {
        return tensors.containsKey("pooler.dense.weight");
    }

    public long parameterCount() {
        return tensors.values().stream().mapToLong(HostTensor::numel).sum();
    }
}
