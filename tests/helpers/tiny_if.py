"""A tiny DeepFloyd IF (stage I + stage II) built fully offline, saved like the real repos.

    python -m tests.helpers.tiny_if resources/tiny_if      # -> resources/tiny_if/{stage1,stage2}

Stage I holds tokenizer/ (a Unigram T5 tokenizer made with ``tokenizers``), text_encoder/ (a
2-layer T5EncoderModel), unet/ (the diffusers test-suite IF UNet, sample_size 32, 6 output
channels) and scheduler/ (IF's DDPMScheduler: squaredcos_cap_v2, learned_range). Stage II is a
tiny IFSuperResolutionPipeline (32 -> 64). Loading them goes through the real backend code.
"""

from __future__ import annotations

import sys
from pathlib import Path

WORDS = (
    "a an the of photo high quality oil painting snowy mountain village man wearing hat rocket "
    "ship people around campfire old lithograph waterfalls skull dog pencil amalfi coast"
).split()


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + w, -5.0) for w in WORDS]
    vocab += [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + [("\u2581", -8.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return T5TokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=0,
        model_max_length=77,
    )


def if_scheduler(sample_max_value=1.5):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        beta_start=0.0001,
        beta_end=0.02,
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=sample_max_value,
        prediction_type="epsilon",
        variance_type="learned_range",
    )


def unet(stage2=False):
    from diffusers import UNet2DConditionModel

    kw = dict(
        block_out_channels=[32, 64],
        down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
        out_channels=6,
        cross_attention_dim=32,
        encoder_hid_dim=32,
        attention_head_dim=8,
        addition_embed_type="text",
        addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift",
        act_fn="gelu",
    )
    if stage2:
        kw.update(
            sample_size=64,
            layers_per_block=[1, 2],
            in_channels=6,
            class_embed_type="timestep",
            mid_block_scale_factor=1.414,
            time_embedding_act_fn="gelu",
            time_embedding_dim=32,
        )
    else:
        kw.update(sample_size=32, layers_per_block=1, in_channels=3)
    return UNet2DConditionModel(**kw)


def build(dest) -> Path:
    """Write ``dest/stage1`` and ``dest/stage2``; returns ``dest``."""
    import torch
    from diffusers import DDPMScheduler, IFPipeline, IFSuperResolutionPipeline
    from transformers import T5Config, T5EncoderModel

    dest = Path(dest)
    torch.manual_seed(0)
    tok = tokenizer()
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(tok),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            dropout_rate=0.0,
            feed_forward_proj="gated-gelu",
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    ).eval()
    none = dict(safety_checker=None, feature_extractor=None, watermarker=None)
    stage1 = IFPipeline(
        tokenizer=tok,
        text_encoder=text_encoder,
        unet=unet(),
        scheduler=if_scheduler(),
        requires_safety_checker=False,
        **none,
    )
    stage1.save_pretrained(dest / "stage1")
    stage2 = IFSuperResolutionPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=unet(stage2=True),
        scheduler=if_scheduler(sample_max_value=1.0),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        requires_safety_checker=False,
        **none,
    )
    stage2.save_pretrained(dest / "stage2")
    return dest


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else "resources/tiny_if"))
