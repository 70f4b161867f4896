//! Any bytes as a saved plan: reading never panics, and an accepted plan survives a
//! save and re-read, and the checks apply runs on it do not panic.
#![no_main]

use cutover::plan::Plan;
use cutover::plan::PlanSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = Plan::from_slice(data) else {
        return;
    };
    let survey = plan.survey().expect("a plan in memory is surveyed");
    let _ = cutover::write::apply::refusal(&survey);
    assert_eq!(survey.summary, plan.summary());
    let saved = serde_json::to_vec(&plan).expect("a plan serializes");
    let again = Plan::from_slice(&saved).expect("cutover reads the plans it saves");
    assert_eq!(again, plan);
});
