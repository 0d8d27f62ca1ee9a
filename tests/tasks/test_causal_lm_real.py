"""causal-lm on the real SmolLM2-135M (alias smollm2-135m): a few LoRA steps on the packaged tweet instructions
lower held-out perplexity, and the saved folder loads in transformers and generates what `predict` prints."""
import pytest

from tuneforge.recipe import Recipe

pytestmark = pytest.mark.real


def test_smollm2_lora_steps_lower_perplexity_and_the_folder_generates(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.data.lm_examples import prompt_text
    from tuneforge.artefacts.evaluate_run import predict_cells
    from tuneforge.runs.pipeline import run

    recipe = Recipe(task="causal-lm", model={"name": "smollm2-135m"},
                    data={"train": "tweets-instructions", "prompt_column": "prompt", "response_column": "response",
                          "validation": None, "test": 0.2, "max_train_samples": 48, "max_eval_samples": 16,
                          "max_length": 96},
                    optimizer={"lr": 1e-3}, train={"max_steps": 6, "batch_size": 8, "seed": 0},
                    generate={"max_new_tokens": 3, "samples": 2},
                    evaluate={"bootstrap": 0, "report": False}, output={"dir": str(tmp_path)})
    assert recipe.strategy.name == "lora"
    result = run(recipe, quiet=True)
    m = result.metrics
    assert m["test"]["perplexity"] < m["baseline"]["perplexity"]
    prompt = "Classify the sentiment of this tweet as positive, negative or neutral. Answer with one word.\nTweet: great!"
    shown = predict_cells(result.run_dir, [prompt])[0][0]
    tok = AutoTokenizer.from_pretrained(result.run_dir / "model")
    net = AutoModelForCausalLM.from_pretrained(result.run_dir / "model").eval()
    enc = tok(prompt_text(prompt, tok), return_tensors="pt", add_special_tokens=False)
    ids = net.generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() == shown
