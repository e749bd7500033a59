//! The demand waterfall: the stages a prospect passes through and the moves allowed
//! between them. Everything else (who may move a lead, what is recorded) builds on
//! [`Stage::check_move`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a prospect stands in the waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Anonymous interest: a visitor that has been tracked.
    Inquiry,
    /// Identified, in marketing's nurture until it matches the lead definition.
    Known,
    /// Marketing qualified: with the qualification team.
    Mql,
    /// Sales accepted: confirmed by the qualification team, with sales.
    Sal,
    /// Sales qualified: worked by sales until won or lost.
    Sql,
    /// The deal was won.
    Customer,
    /// Returned to marketing with a reason; must qualify again to become MQL.
    Recycled,
}

/// The moves the waterfall allows, as (from, to).
pub const ALLOWED_MOVES: &[(Stage, Stage)] = &[
    (Stage::Inquiry, Stage::Known),
    (Stage::Known, Stage::Mql),
    (Stage::Recycled, Stage::Mql),
    (Stage::Mql, Stage::Sal),
    (Stage::Mql, Stage::Recycled),
    (Stage::Sal, Stage::Sql),
    (Stage::Sal, Stage::Recycled),
    (Stage::Sql, Stage::Customer),
    (Stage::Sql, Stage::Recycled),
];

/// The outcome of asking for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The prospect changes stage; record it.
    To(Stage),
    /// The prospect is already there: nothing to do, nothing to record.
    AlreadyThere,
}

/// A move the waterfall does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a lead cannot move from {from} to {to}")]
pub struct StageError {
    pub from: Stage,
    pub to: Stage,
}

/// An unknown stage name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{0}`")]
pub struct UnknownStage(pub String);

/// What a person (or the system acting for them) is allowed to do with leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything people may do.
    Admin,
    /// Configures and reads; moves no lead.
    Marketer,
    /// The telephone qualification team: accepts or returns MQLs.
    Qualification,
    /// Sales: qualifies or returns SALs, closes SQLs as won or lost.
    Sales,
}

/// A move a role may not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {role} role may not move a lead from {from} to {to}")]
pub struct NotPermitted {
    pub role: Role,
    pub from: Stage,
    pub to: Stage,
}

impl Role {
    /// Whether this role may ask for the move. Moves the system makes (identifying,
    /// qualifying by the lead definition) are nobody's to make by hand.
    pub fn may_move(self, from: Stage, to: Stage) -> Result<(), NotPermitted> {
        use Stage::*;
        let permitted = match self {
            Role::Admin => matches!((from, to), (Mql | Sal | Sql, _)),
            Role::Marketer => false,
            Role::Qualification => matches!((from, to), (Mql, Sal | Recycled)),
            Role::Sales => matches!(
                (from, to),
                (Sal, Sql | Recycled) | (Sql, Customer | Recycled)
            ),
        };
        if permitted || from == to {
            Ok(())
        } else {
            Err(NotPermitted {
                role: self,
                from,
                to,
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Qualification => "qualification",
            Role::Sales => "sales",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Who moved a prospect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Actor {
    /// The visitor itself, e.g. by filling in a form.
    Visitor,
    /// The lead definition, evaluated by the server.
    LeadDefinition,
    /// A person, by user name or API token name.
    Person(String),
    /// A service-level timer.
    SlaTimer,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Inquiry,
        Stage::Known,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Customer,
        Stage::Recycled,
    ];

    /// Whether the prospect may go from `self` to `to`; staying put is always fine.
    pub fn check_move(self, to: Stage) -> Result<Move, StageError> {
        if self == to {
            Ok(Move::AlreadyThere)
        } else if ALLOWED_MOVES.contains(&(self, to)) {
            Ok(Move::To(to))
        } else {
            Err(StageError { from: self, to })
        }
    }

    /// The name used in storage, the API and webhooks.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Inquiry => "inquiry",
            Stage::Known => "known",
            Stage::Mql => "mql",
            Stage::Sal => "sal",
            Stage::Sql => "sql",
            Stage::Customer => "customer",
            Stage::Recycled => "recycled",
        }
    }

    /// Whether the lead definition decides about this stage: only prospects still
    /// with marketing can be promoted to MQL.
    pub fn with_marketing(self) -> bool {
        matches!(self, Stage::Inquiry | Stage::Known | Stage::Recycled)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == name)
            .ok_or_else(|| UnknownStage(name.to_owned()))
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Visitor => formatter.write_str("visitor"),
            Actor::LeadDefinition => formatter.write_str("lead-definition"),
            Actor::Person(name) => write!(formatter, "person:{name}"),
            Actor::SlaTimer => formatter.write_str("sla-timer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    #[test]
    fn the_waterfall_moves_forward_and_recycles() {
        let allowed = [
            (Inquiry, Known),
            (Known, Mql),
            (Mql, Sal),
            (Sal, Sql),
            (Sql, Customer),
            (Mql, Recycled),
            (Sal, Recycled),
            (Sql, Recycled),
            (Recycled, Mql),
        ];
        for (from, to) in allowed {
            assert_eq!(from.check_move(to), Ok(Move::To(to)), "{from} -> {to}");
        }
    }

    #[test]
    fn every_other_move_is_refused() {
        for from in Stage::ALL {
            for to in Stage::ALL {
                let expected = if from == to {
                    Ok(Move::AlreadyThere)
                } else if ALLOWED_MOVES.contains(&(from, to)) {
                    Ok(Move::To(to))
                } else {
                    Err(StageError { from, to })
                };
                assert_eq!(from.check_move(to), expected, "{from} -> {to}");
            }
        }
        let refused = [
            (Inquiry, Mql),
            (Known, Sal),
            (Mql, Customer),
            (Customer, Recycled),
            (Recycled, Known),
        ];
        for (from, to) in refused {
            assert!(from.check_move(to).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn who_may_move_what() {
        let cases = [
            (Role::Qualification, Mql, Sal, true),
            (Role::Qualification, Mql, Recycled, true),
            (Role::Qualification, Sal, Sql, false),
            (Role::Sales, Sal, Sql, true),
            (Role::Sales, Sql, Customer, true),
            (Role::Sales, Sql, Recycled, true),
            (Role::Sales, Mql, Sal, false),
            (Role::Marketer, Mql, Sal, false),
            (Role::Admin, Mql, Sal, true),
            (Role::Admin, Known, Mql, false),
            (Role::Admin, Inquiry, Known, false),
        ];
        for (role, from, to, expected) in cases {
            assert_eq!(
                role.may_move(from, to).is_ok(),
                expected,
                "{role}: {from} -> {to}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
        assert_eq!("lead".parse::<Stage>(), Err(UnknownStage("lead".into())));
        assert_eq!(Actor::Person("olga".into()).to_string(), "person:olga");
    }
}
