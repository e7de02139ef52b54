package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.util.Json;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag kb}: build a knowledge base, encode its passages, inspect and publish versions. */
@Command(
        name = "kb",
        mixinStandardHelpOptions = true,
        description = "Knowledge base: chunked passages (build), embeddings versions (encode), the published "
                + "version (publish).",
        subcommands = {KbBuildCommand.class, KbEncodeCommand.class, KbCommand.Info.class, KbCommand.Publish.class})
public final class KbCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(
            name = "info",
            mixinStandardHelpOptions = true,
            description = "Print the manifest, the embeddings versions and the current one.")
    static final class Info implements Callable<Integer> {
        @Option(names = "--kb", required = true, description = "Knowledge base directory.")
        Path kb;

        @Override
        public Integer call() throws Exception {
            KnowledgeBase k = KnowledgeBase.open(kb);
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.set("manifest", k.manifest());
            o.put("current", KbVersions.current(k.dir()).orElse(null));
            ArrayNode vs = o.putArray("versions");
            for (String v : KbVersions.list(k.dir())) {
                Embeddings e = Embeddings.open(k.dir().resolve(v));
                ObjectNode vo = vs.addObject();
                vo.put("version", v);
                vo.put("dim", e.dim());
                vo.set("encoder", e.meta().path("encoder"));
                vo.put("hnsw", dev.rage2e.index.Indexes.hasHnsw(e));
            }
            System.out.println(Json.pretty(o));
            return 0;
        }
    }

    @Command(
            name = "publish",
            mixinStandardHelpOptions = true,
            description = "Make an embeddings version current (atomic pointer swap).")
    static final class Publish implements Callable<Integer> {
        @Option(names = "--kb", required = true, description = "Knowledge base directory.")
        Path kb;

        @Parameters(index = "0", description = "Version name, e.g. emb-00002.")
        String version;

        @Override
        public Integer call() throws Exception {
            KnowledgeBase k = KnowledgeBase.open(kb);
            Embeddings.open(k, version); // checks it belongs to this KB
            KbVersions.publish(k.dir(), version);
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("current", version);
            System.out.println(Json.write(o));
            return 0;
        }
    }
}
