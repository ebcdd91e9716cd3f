//! The catalogue (the page's table of everything it can train: ids, titles, sources) and
//! the builders below it name the same things in the same order: the presets of
//! `core::config`, the recipes of `train::pipeline` and the 3-D cloud scene of
//! `train::cloud`. The builders keep their own name lists so that they do not reach up
//! into the page's tables; this test keeps the two from drifting apart.

use aeplay::app::catalogue::{self, Kind};
use aeplay::core::config::{preset, PRESET_NAMES};
use aeplay::train::cloud;
use aeplay::train::pipeline::{recipe, RECIPE_NAMES};

#[test]
fn the_catalogue_lists_every_preset_recipe_and_scene_in_order() {
    assert_eq!(catalogue::MODELS.as_slice(), PRESET_NAMES);
    assert_eq!(catalogue::RECIPES.as_slice(), RECIPE_NAMES);
    assert_eq!(catalogue::SCENES.as_slice(), [cloud::NAME].as_slice());
    for name in PRESET_NAMES {
        assert_eq!(preset(name).unwrap_or_else(|| panic!("{name}: no preset")).name, *name);
    }
    for name in RECIPE_NAMES {
        assert_eq!(recipe(name).unwrap_or_else(|| panic!("{name}: no recipe")).name(), *name);
    }
    assert_eq!(catalogue::list(Kind::Model), aeplay::core::config::preset_list());
    assert_eq!(catalogue::list(Kind::Recipe), aeplay::train::pipeline::recipe_list());
}
