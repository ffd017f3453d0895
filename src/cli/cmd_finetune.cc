// oodscore finetune: energy-bounded fine-tuning of a TorchScript classifier (src/cli/finetune.h).
#include "cli/cli.h"
#include "cli/finetune.h"

namespace oodscore {

void SetupFinetuneCommand(CLI::App* app, int* exit_code) {
  auto opt = std::make_shared<FinetuneOptions>();
  auto m_in = std::make_shared<double>(0), m_out = std::make_shared<double>(0);
  auto margins = std::make_shared<std::string>("auto");
  CLI::App* sub = app->add_subcommand(
      "finetune",
      "energy-bounded fine-tuning (Liu et al., 2020): train a TorchScript classifier so that ID "
      "energies fall below m_in and auxiliary outliers' rise above m_out; writes a TorchScript "
      "model that score/eval load");
  sub->add_option("--model", opt->model_path, "TorchScript classifier to start from (not frozen)")
      ->required();
  sub->add_option("--preset", opt->preset, "preprocessing preset (as for score)")->required();
  sub->add_option("--train", opt->train_dir, "ID training images in class folders (ImageFolder)")
      ->required();
  sub->add_option("--aux", opt->aux_dir,
                  "auxiliary outlier images (every image below; keep them apart from the OOD "
                  "sets you test on)")
      ->required();
  sub->add_option("--output,-o", opt->output, "the tuned TorchScript model (.pt)")->required();
  sub->add_option("--val", opt->val_dir, "ID validation images in class folders");
  sub->add_option("--val-ood", opt->val_ood, "NAME=DIR: an OOD validation set; repeatable");
  sub->add_option("--epochs", opt->epochs, "epochs")->capture_default_str();
  sub->add_option("--lr", opt->lr, "learning rate at the first step (cosine to 1e-6)")
      ->check(InRange(kPositive))
      ->capture_default_str();
  sub->add_option("--batch-size", opt->batch_size, "ID images per step")->capture_default_str();
  sub->add_option("--aux-batch-size", opt->aux_batch_size, "auxiliary images per step")
      ->capture_default_str();
  sub->add_option("--lambda", opt->lambda, "weight of the energy hinges")
      ->check(InRange(kNonNegative))
      ->capture_default_str();
  sub->add_option("--margins", *margins,
                  "auto: m_in, m_out from the pretrained model's energies (5th percentile of ID, "
                  "95th of auxiliary); or give --m-in and --m-out")
      ->check(CLI::IsMember({"auto"}))
      ->capture_default_str();
  CLI::Option* in_opt = sub->add_option("--m-in", *m_in,
                                        "ID energy margin (the reference: -23 "
                                        "on CIFAR-10, -27 on CIFAR-100)")
                            ->check(InRange(kFinite));
  CLI::Option* out_opt =
      sub->add_option("--m-out", *m_out, "outlier energy margin (the reference: -5)")
          ->check(InRange(kFinite));
  sub->add_option("--augment", opt->augment,
                  "train-time augmentation after the preset's resize: hflip, crop-padN, or none "
                  "(the reference's CIFAR setting: hflip,crop-pad4)")
      ->capture_default_str();
  sub->add_option("--seed", opt->seed, "seed of the shuffles, augmentation and dropout")
      ->check(WholeNumber())
      ->capture_default_str();
  sub->add_option("--threads", opt->threads, "LibTorch intra-op threads (0 = number of cores)")
      ->capture_default_str();
  sub->add_option("--device", opt->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_flag("--resume", opt->resume,
                "continue a stopped run from its last epoch checkpoint (OUTPUT.ckpt/)");
  sub->footer(HelpFooter(
      {"oodscore finetune --model m.pt --preset cifar10 --train cifar10/train --aux outliers/ "
       "--augment hflip,crop-pad4 -o m-energy.pt",
       "oodscore finetune ... --val cifar10/test --val-ood svhn=svhn/test --epochs 10 --seed 1",
       "oodscore eval --model m-energy.pt --preset cifar10 --id cifar10/test --ood svhn/test"}));
  // Every value a flag writes into must live as long as the command: margins too, although the
  // callback does not read it (CLI11 writes "--margins auto" into it while parsing).
  sub->callback([opt, m_in, m_out, margins, in_opt, out_opt, exit_code, app] {
    opt->quiet = app->get_option("--quiet")->as<bool>();
    opt->m_in.reset();
    opt->m_out.reset();
    if (in_opt->count() > 0) opt->m_in = *m_in;
    if (out_opt->count() > 0) opt->m_out = *m_out;
    *exit_code = RunFinetune(*opt);
  });
}

}  // namespace oodscore
