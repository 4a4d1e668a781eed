//! The engine must feed the model the tokens it was trained on. Training
//! tokenizes each gold output canonically; at inference the grammar forces
//! some tokens and the model picks the rest. If forcing ever ended on a lone
//! space (`location_tool ` + `naples`) where the canonical text has one token
//! (`location_tool` + ` naples`), every copied word would start from a token
//! sequence the model never saw. This walks the decoder exactly as the
//! engine does, with an oracle in place of the model, and checks that the
//! tokens equal the canonical tokenization of the whole output.

use quarry::decode::Decoder;
use quarry::generator::Constraint;
use quarry::tokenizer::Tokenizer;
use quarry::Profile;

fn tokenizer() -> Tokenizer {
    Tokenizer::from_json(include_bytes!("../models/tokenizer.json")).unwrap()
}

/// The tokens the engine's loop feeds the model when the model always picks
/// the next canonical token of `output`.
fn engine_tokens(tokenizer: &Tokenizer, constraint: &Constraint<'_>, output: &str) -> Vec<u32> {
    let decoder = Decoder::new(tokenizer, tokenizer.vocab_size()).unwrap();
    let mut matcher = decoder.matcher(constraint).unwrap();
    let mut fed: Vec<u32> = Vec::new();
    while !matcher.is_stopped() {
        let done = tokenizer.decode(&fed).unwrap();
        let forced = matcher.compute_ff_tokens();
        let tokens = if !forced.is_empty() {
            forced
        } else if done.len() == output.len() {
            break;
        } else {
            let next = tokenizer.encode(&output[done.len()..]).unwrap()[0];
            let mask = matcher.compute_mask().unwrap();
            assert!(
                mask.is_allowed(next),
                "grammar refuses {:?} after {done:?}",
                tokenizer.decode(&[next]).unwrap()
            );
            vec![next]
        };
        matcher.consume_tokens(&tokens).unwrap();
        fed.extend(tokens);
        assert!(
            output.starts_with(&tokenizer.decode(&fed).unwrap()),
            "left the output at {:?}",
            tokenizer.decode(&fed).unwrap()
        );
    }
    assert_eq!(tokenizer.decode(&fed).unwrap(), output);
    fed
}

fn assert_canonical(constraint: Constraint<'_>, output: &str) {
    let tokenizer = tokenizer();
    let fed = engine_tokens(&tokenizer, &constraint, output);
    let canonical = tokenizer.encode(output).unwrap();
    let pieces = |ids: &[u32]| -> Vec<String> {
        ids.iter()
            .map(|&id| tokenizer.decode(&[id]).unwrap())
            .collect()
    };
    assert_eq!(pieces(&fed), pieces(&canonical), "for {output:?}");
}

#[test]
fn tagger_outputs_are_fed_as_canonical_tokens() {
    let source = "senior rust engineer jobs in naples over 150k, easy apply, posted this week";
    assert_canonical(
        Constraint::Tools { source },
        "seniority_tool mid_senior\ntitle_tool rust engineer\nlocation_tool naples\nsalary_tool over 150k\neasy_apply_tool\ndate_posted_tool past_week\n",
    );
}

#[test]
fn rewrites_are_fed_as_canonical_tokens() {
    let profile = Profile {
        title: Some("Sous Chef".into()),
        location: Some("Naples, Florida, United States".into()),
        ..Profile::default()
    };
    assert_canonical(
        Constraint::Rewrite {
            query: "chef jobs near me",
            profile: &profile,
        },
        "rewrite Sous Chef jobs in Naples, Florida, United States\n",
    );
}

#[test]
fn intents_are_fed_as_canonical_tokens() {
    assert_canonical(Constraint::Intent, "intent self_reference\n");
}

/// Whether the grammar lets the model write all of `output`.
fn admits(constraint: &Constraint<'_>, output: &str) -> bool {
    let tokenizer = tokenizer();
    let decoder = Decoder::new(&tokenizer, tokenizer.vocab_size()).unwrap();
    let mut matcher = decoder.matcher(constraint).unwrap();
    let tokens = tokenizer.encode(output).unwrap();
    matcher.validate_tokens(&tokens).unwrap() == tokens.len()
        && matcher.consume_tokens(&tokens).is_ok()
        && matcher.is_stopped()
}

#[test]
fn rewrites_keep_the_query_words_in_order_and_once() {
    let profile = Profile {
        title: Some("Sous Chef".into()),
        location: Some("Naples, Florida, United States".into()),
        skills: vec!["Pastry".into(), "Butchery".into()],
        ..Profile::default()
    };
    let constraint = Constraint::Rewrite {
        query: "chef positions near my home, part time",
        profile: &profile,
    };
    for good in [
        "rewrite Sous Chef positions in Naples, Florida, United States, part time\n",
        "rewrite chef positions with Pastry and Butchery near Naples, Florida, United States, part time\n",
    ] {
        assert!(admits(&constraint, good), "{good:?}");
    }
    for bad in [
        // The query's words out of order, or twice.
        "rewrite positions chef in Naples, Florida, United States\n",
        "rewrite chef positions chef positions in Naples, Florida, United States\n",
        // A profile place cut short, and words from nowhere.
        "rewrite chef positions in Naples\n",
        "rewrite entry level chef positions in Naples, Florida, United States\n",
        "rewrite chef positions en lavoro in Naples, Florida, United States\n",
        // "near my home" cites the member's place: it must be there.
        "rewrite senior Sous Chef positions, part time\n",
        // "part time" is the member's own criterion: it stays.
        "rewrite chef positions in Naples, Florida, United States\n",
    ] {
        assert!(!admits(&constraint, bad), "{bad:?}");
    }
}

#[test]
fn rewrites_cite_every_skill_the_query_asks_for() {
    let profile = Profile {
        title: Some("Sous Chef".into()),
        skills: vec!["Pastry".into(), "Butchery".into()],
        ..Profile::default()
    };
    let constraint = Constraint::Rewrite {
        query: "jobs using my skills",
        profile: &profile,
    };
    assert!(admits(
        &constraint,
        "rewrite Sous Chef jobs with Pastry and Butchery\n"
    ));
    assert!(admits(&constraint, "rewrite jobs using Pastry, Butchery\n"));
    assert!(!admits(&constraint, "rewrite Sous Chef jobs with Pastry\n"));
}

/// The engine checks the model's top tokens without computing masks, and
/// llguidance refills the lexer's fuel only with a mask: a long rewrite
/// with several cited groups once ran dry mid-word ("… in Col").
#[test]
fn long_rewrites_with_cited_groups_finish_without_masks() {
    let profile = Profile {
        title: Some("Line Cook".into()),
        location: Some("Austin, Texas, United States".into()),
        skills: vec![
            "Food Safety".into(),
            "Knife Skills".into(),
            "Inventory Management".into(),
        ],
        ..Profile::default()
    };
    let constraint = Constraint::Rewrite {
        query: "part time jobs like mine using my skills in my town",
        profile: &profile,
    };
    let output = "rewrite part time Line Cook jobs with Food Safety, Knife Skills and Inventory Management in Austin, Texas, United States\n";
    let tokenizer = tokenizer();
    let decoder = Decoder::new(&tokenizer, tokenizer.vocab_size()).unwrap();
    let mut matcher = decoder.matcher(&constraint).unwrap();
    // What a model weighs at each step: the first token of every word it
    // could write next, checked one at a time as the engine checks its
    // top candidates.
    let candidates: Vec<u32> = output
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(|w| tokenizer.encode(&format!(" {w}")).unwrap()[0])
        .collect();
    let mut fed: Vec<u32> = Vec::new();
    while !matcher.is_stopped() {
        let forced = matcher.compute_ff_tokens();
        let tokens = if forced.is_empty() {
            for &candidate in &candidates {
                matcher.validate_tokens(&[candidate]).unwrap();
            }
            let done = tokenizer.decode(&fed).unwrap();
            vec![tokenizer.encode(&output[done.len()..]).unwrap()[0]]
        } else {
            forced
        };
        matcher.consume_tokens(&tokens).unwrap();
        fed.extend(tokens);
    }
    assert_eq!(tokenizer.decode(&fed).unwrap(), output);
}

/// A token may end inside a character (" \u{c3}" of " à"); the grammar then
/// forces the character's last byte, which must be forced as that byte,
/// not as a replacement character.
#[test]
fn forced_bytes_may_finish_a_character() {
    let tokenizer = tokenizer();
    let decoder = Decoder::new(&tokenizer, tokenizer.vocab_size()).unwrap();
    let profile = Profile {
        location: Some("Lyon, Auvergne-Rhône-Alpes, France".into()),
        ..Profile::default()
    };
    let mut matcher = decoder
        .matcher(&Constraint::Rewrite {
            query: "emplois près de chez moi",
            profile: &profile,
        })
        .unwrap();
    let mut fed = tokenizer.encode("rewrite emplois").unwrap();
    let half = decoder.trie().token_id(" \u{e0}".as_bytes().split_at(2).0);
    let half = half.expect("the vocabulary has a token for a space and a lead byte");
    fed.push(half);
    matcher.consume_tokens(&fed).unwrap();
    let forced = matcher.compute_ff_tokens();
    assert_eq!(decoder.trie().decode(&forced), vec![0xa0]);
    matcher.consume_tokens(&forced).unwrap();
    let rest = tokenizer
        .encode(" Lyon, Auvergne-Rhône-Alpes, France\n")
        .unwrap();
    matcher.consume_tokens(&rest).unwrap();
    assert!(matcher.is_stopped());
}

/// "in my region" is answered by the region alone or by the whole place
/// that holds it.
#[test]
fn a_cited_region_may_stand_inside_the_whole_place() {
    let profile = Profile {
        title: Some("Software Engineer".into()),
        location: Some("Ananindeua, Pará, Brazil".into()),
        ..Profile::default()
    };
    let constraint = Constraint::Rewrite {
        query: "trabalho de engenheiro na minha região",
        profile: &profile,
    };
    assert!(admits(
        &constraint,
        "rewrite trabalho de engenheiro em Ananindeua, Pará, Brazil\n"
    ));
    assert!(admits(
        &constraint,
        "rewrite trabalho de engenheiro em Pará\n"
    ));
    assert!(!admits(&constraint, "rewrite trabalho de engenheiro\n"));
}
