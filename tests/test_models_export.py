"""Exporting ONNX files: a tiny random-weight transformers CLIP round-trips through the encoders."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_models import save_tokenizer

from dianna_distance.models import ImageEncoder, ImagePreset, TextEncoder
from dianna_distance.models.export import export_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning",
                                        "ignore::torch.jit.TracerWarning")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A random-weight CLIP (image 32 x 32, context 8) saved as a transformers folder, with its tokenizer."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(0)
    text = {"vocab_size": 9, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 8, "bos_token_id": 0, "eos_token_id": 1,
            "pad_token_id": 1}
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 16}
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=8)
    model = transformers.CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(save_tokenizer(folder / "source.json")),
                                                     bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                                     pad_token="<|endoftext|>", unk_token="[UNK]")
    tokenizer.save_pretrained(folder)
    return folder, model


def test_transformers_clip_export_writes_towers_and_tokenizer_that_match_torch(tiny_clip, tmp_path):
    import torch

    folder, model = tiny_clip
    image_path, text_path, tokenizer_path = export_model("transformers", str(folder), tmp_path)
    text_encoder = TextEncoder(text_path, tokenizer_path)
    tokens = text_encoder.tokenize(["a bee", "a fly"])
    with torch.no_grad():
        expected = model.get_text_features(input_ids=torch.from_numpy(tokens["input_ids"]),
                                           attention_mask=torch.from_numpy(tokens["attention_mask"]))
    expected = getattr(expected, "pooler_output", expected).numpy()
    np.testing.assert_allclose(text_encoder.encode(["a bee", "a fly"]), expected, rtol=1e-4, atol=1e-5)

    preset = ImagePreset(resize=32, crop=32, resample="bicubic", normalization="clip")
    image_encoder = ImageEncoder(image_path, preset)
    pixels = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        expected_image = model.get_image_features(pixel_values=torch.from_numpy(image_encoder.preprocess(pixels[None])))
    expected_image = getattr(expected_image, "pooler_output", expected_image).numpy()
    np.testing.assert_allclose(image_encoder.embed(pixels), expected_image[0], rtol=1e-4, atol=1e-5)


def test_unknown_source_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="source must be one of"):
        export_model("caffe", "resnet50", tmp_path)


def test_name_is_required_for_a_source_of_many_models(tmp_path):
    with pytest.raises(ValueError, match="name is required for source 'torchvision'"):
        export_model("torchvision", None, tmp_path)


def test_efficientnet_lite0_source_takes_no_other_name(tmp_path):
    with pytest.raises(ValueError, match="name must be None or 'efficientnet-lite0'"):
        export_model("efficientnet-lite0", "efficientnet-lite4", tmp_path)


@pytest.mark.parametrize("source, name", [("efficientnet-lite0", None), ("keras", "ResNet50"),
                                          ("transformers", "openai/clip-vit-base-patch32")])
def test_pretrained_is_refused_for_sources_without_weight_tags(tmp_path, source, name):
    with pytest.raises(ValueError, match=f"pretrained applies only to the torchvision and open_clip sources.*{source}"):
        export_model(source, name, tmp_path, pretrained="openai")
    assert not list(tmp_path.iterdir())


def test_transformers_clip_tower_of_another_size_than_the_clip_preset_states_no_preprocessing(tiny_clip, tmp_path):
    from dianna_distance.model import OnnxModel

    folder, _ = tiny_clip
    image_file = export_model("transformers", str(folder), tmp_path)[0]
    assert OnnxModel(image_file).preprocessing is None  # 32-pixel input: the clip preset (224) does not fit


def test_missing_framework_says_what_to_install(tmp_path):
    pytest.importorskip("torch")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install torchvision"):
            export_model("torchvision", "resnet50", tmp_path)
    else:
        pytest.skip("torchvision is installed")
