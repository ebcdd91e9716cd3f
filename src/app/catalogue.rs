//! The catalogue: everything the playground can train, in one table. The page's picker and
//! gallery, the URL codec (`urlstate`), the page's controller and the CLI all read it; the
//! ids are what the URL and the CLI say, the titles what a person reads.
//!
//! Three kinds: a single **model** (an MNIST autoencoder built by [`crate::core::config::preset`]),
//! a multi-phase **recipe** (built by `train::pipeline::recipe`) and a **scene** (a page
//! set-up that is not an MNIST model: the 3-D cloud of `linear_3d_pca`, `train::cloud`).
//! Adding one is a row here plus its builder (a preset, a recipe or a scene).

/// What an entry trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Model,
    Recipe,
    Scene,
}

/// One thing the playground can train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The id in links, the CLI and saved files (`dae_vincent`).
    pub id: &'static str,
    pub kind: Kind,
    /// What a person reads ("Denoising autoencoder").
    pub title: &'static str,
    /// Where it comes from (paper or course).
    pub source: &'static str,
    /// What it shows, in a sentence or two.
    pub what: &'static str,
}

const fn model(id: &'static str, title: &'static str, source: &'static str, what: &'static str) -> Entry {
    Entry { id, kind: Kind::Model, title, source, what }
}

/// Every entry, in the order the page lists them: models, then scenes, then recipes.
pub const ENTRIES: &[Entry] = &[
    model(
        "dae_vincent",
        "Denoising autoencoder",
        "Vincent et al. 2008 (Theano dA tutorial)",
        "784→500→784 sigmoid, cross-entropy, masking noise, SGD: learns stroke detectors by filling in destroyed pixels.",
    ),
    model(
        "tied_ae",
        "Tied-weights autoencoder",
        "Theano dA tutorial, no corruption",
        "The decoder is the encoder transposed: half the parameters, the same reconstructions.",
    ),
    model(
        "linear_50",
        "Linear autoencoder vs PCA",
        "mlpractical lab (Edinburgh), exercise 1",
        "Affine 784→50→784 with squared error: the optimum is PCA with 50 components (test loss 4.502); watch SGD approach it.",
    ),
    model("stacked_elu", "Stacked autoencoder", "Géron, Hands-on ML ch. 15", "784→300→150→300→784 ELU trained end to end with Adam and L2."),
    model(
        "relu_ae_adam",
        "Non-linear autoencoder",
        "mlpractical lab, exercise 2",
        "The linear model's shape with a ReLU code and sigmoid output: same parameters, lower loss.",
    ),
    model(
        "dae_gaussian",
        "Denoising: Gaussian noise",
        "Géron, Hands-on ML ch. 15",
        "The stacked network with tied weights reconstructing clean digits from x + N(0, σ²).",
    ),
    model(
        "dae_salt_pepper",
        "Denoising: salt and pepper",
        "mlpractical lab, exercise 3",
        "20 % of the pixels set to black or white at random; the model restores them.",
    ),
    model("dae_dropout", "Denoising: input dropout", "Géron, Hands-on ML ch. 15", "30 % of the input pixels dropped (the rest scaled up) during training."),
    model(
        "sparse_kl",
        "Sparse autoencoder",
        "Ng's sparse autoencoder via Géron ch. 15",
        "1000 sigmoid units, penalised towards a mean activation of 0.1 (KL): an overcomplete code that stays sparse.",
    ),
    model(
        "vae_20",
        "Variational autoencoder",
        "Kingma & Welling 2014 via Géron ch. 15",
        "A 20-D Gaussian code with a KL pull towards N(0, I): decode random codes to generate new digits.",
    ),
    Entry {
        id: "linear_3d_pca",
        kind: Kind::Scene,
        title: "Linear autoencoder on a 3-D cloud",
        source: "Géron, Hands-on ML ch. 15",
        what: "200 points near a plane; a linear 3→2→3 autoencoder trained with MSE lands in PCA's plane, and its 2-D codes unroll the cloud.",
    },
    Entry {
        id: "stacked_greedy",
        kind: Kind::Recipe,
        title: "Greedy layer-wise stack",
        source: "Géron, Hands-On ML ch. 15 (003)",
        what: "784→300→150→300→784 ELU trained one pair at a time: the outer autoencoder on the pixels, then the inner one on its frozen codes; assembled and tested end to end.",
    },
    Entry {
        id: "sda",
        kind: Kind::Recipe,
        title: "Stacked denoising autoencoders",
        source: "Theano SdA tutorial (002), Vincent et al. 2010",
        what: "Three tied sigmoid denoising autoencoders pre-trained greedily, then a softmax classifier built from their encoders and fine-tuned with early stopping on a validation split.",
    },
    Entry {
        id: "pretrain_classifier",
        kind: Kind::Recipe,
        title: "Pre-training for few labels",
        source: "Géron (003), mlpractical ex. 4 (004)",
        what: "An autoencoder learns from unlabelled images; a classifier starting from its encoder and the same classifier from random weights then learn from 1,000 labels, side by side.",
    },
];

const fn count(kind: Kind) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < ENTRIES.len() {
        if ENTRIES[i].kind as u8 == kind as u8 {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn ids<const N: usize>(kind: Kind) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < ENTRIES.len() {
        if ENTRIES[i].kind as u8 == kind as u8 {
            out[n] = ENTRIES[i].id;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N);
    out
}

/// The ids of the single models, in the catalogue's order.
pub const MODELS: [&str; count(Kind::Model)] = ids(Kind::Model);
/// The ids of the multi-phase recipes.
pub const RECIPES: [&str; count(Kind::Recipe)] = ids(Kind::Recipe);
/// The ids of the scenes.
pub const SCENES: [&str; count(Kind::Scene)] = ids(Kind::Scene);

/// The entry of an id.
pub fn find(id: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.id == id)
}

/// The kind of an id, if the catalogue has it.
pub fn kind(id: &str) -> Option<Kind> {
    find(id).map(|e| e.kind)
}

/// What a person reads for an id: its title, or the id itself if the catalogue lacks it (a
/// custom model from a link).
pub fn title(id: &str) -> &str {
    find(id).map_or(id, |e| e.title)
}

/// One line listing the ids of a kind, for error messages.
pub fn list(kind: Kind) -> String {
    ENTRIES.iter().filter(|e| e.kind == kind).map(|e| e.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_grouped_by_kind() {
        for (i, a) in ENTRIES.iter().enumerate() {
            assert!(ENTRIES[i + 1..].iter().all(|b| b.id != a.id), "{} twice", a.id);
            assert!(!a.title.is_empty() && !a.source.is_empty() && !a.what.is_empty(), "{}", a.id);
        }
        assert_eq!(MODELS.len() + RECIPES.len() + SCENES.len(), ENTRIES.len());
        assert_eq!(MODELS[0], "dae_vincent");
        assert_eq!(RECIPES, ["stacked_greedy", "sda", "pretrain_classifier"]);
        assert_eq!(SCENES, ["linear_3d_pca"]);
        assert_eq!(kind("sda"), Some(Kind::Recipe));
        assert_eq!(title("vae_20"), "Variational autoencoder");
        assert_eq!(title("custom"), "custom");
    }

    #[test]
    fn every_model_has_a_preset() {
        for id in MODELS {
            let cfg = crate::core::config::preset(id).unwrap_or_else(|| panic!("{id}: no preset"));
            assert_eq!(cfg.name, id);
        }
    }
}
