//! The gRPC front (`proto/quarry.proto`), served on the HTTP port: HTTP/2
//! requests with `content-type: application/grpc` reach it.

use std::sync::Arc;

use quarry::contract::to_json;
use quarry::{Event, Input, Output};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};

use super::http::Shared;
use super::service::Failure;

pub mod proto {
    tonic::include_proto!("quarry.v1");
}

use proto::quarry_server::{Quarry, QuarryServer};

pub fn service(state: Shared) -> QuarryServer<Grpc> {
    QuarryServer::new(Grpc { state })
}

pub struct Grpc {
    state: Shared,
}

const ROUTE: &str = "grpc";

impl From<Failure> for Status {
    fn from(failure: Failure) -> Status {
        let code = match failure.status {
            400 | 413 | 422 => Code::InvalidArgument,
            499 => Code::Cancelled,
            503 if failure.code == "overloaded" => Code::ResourceExhausted,
            503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            _ => Code::Internal,
        };
        Status::new(code, format!("{}: {}", failure.code, failure.message))
    }
}

/// The contract input of a gRPC request, validated like the HTTP body.
fn to_input(request: proto::UnderstandRequest) -> Result<Input, Failure> {
    let profile = match request.profile {
        None => None,
        Some(p) => {
            let seniority = match p.seniority {
                None => None,
                Some(level) => Some(
                    serde_json::from_value(serde_json::Value::String(level)).map_err(|e| {
                        Failure::new(
                            422,
                            "invalid_input",
                            format!("invalid `profile.seniority`: {e}"),
                        )
                    })?,
                ),
            };
            Some(quarry::Profile {
                title: p.title,
                company: p.company,
                location: p.location,
                industry: p.industry,
                seniority,
                skills: p.skills,
                years_experience: p.years_experience,
                education: p.education,
            })
        }
    };
    Input {
        query: request.query,
        profile,
    }
    .validated()
    .map_err(Failure::from)
}

fn tool(call: &quarry::ToolCall) -> proto::ToolCall {
    proto::ToolCall {
        name: call.name.as_str().to_string(),
        arguments_json: to_json(&call.arguments),
    }
}

fn reply(output: &Output) -> proto::UnderstandReply {
    proto::UnderstandReply {
        query: output.query.clone(),
        intent: output.intent.as_str().to_string(),
        denied: output.denied,
        message: output.message.clone(),
        rewritten_query: output.rewritten_query.clone(),
        tools: output.tools.iter().map(tool).collect(),
        suggested_industries: output.suggested_industries.clone(),
        confidence: output.confidence,
        output_json: to_json(output),
    }
}

fn event(event: &Event) -> proto::Event {
    use proto::event::Event as E;
    let inner = match event {
        Event::Intent(intent) => E::Intent(intent.as_str().to_string()),
        Event::Rewrite(text) => E::Rewrite(text.clone()),
        Event::Tool(call) => E::Tool(tool(call)),
        Event::Suggestions(names) => E::Suggestions(proto::Suggestions {
            names: names.clone(),
        }),
        Event::Error(message) => E::Error(message.clone()),
        Event::Done(output) => E::Done(reply(output)),
    };
    proto::Event { event: Some(inner) }
}

#[tonic::async_trait]
impl Quarry for Grpc {
    async fn understand(
        &self,
        request: Request<proto::UnderstandRequest>,
    ) -> Result<Response<proto::UnderstandReply>, Status> {
        let service = Arc::clone(self.state.service()?);
        let input = to_input(request.into_inner())?;
        let admission = service.admit(ROUTE)?;
        let routed = service.answer(admission, input).await?;
        Ok(Response::new(reply(&routed.output)))
    }

    type UnderstandStreamStream = ReceiverStream<Result<proto::Event, Status>>;

    async fn understand_stream(
        &self,
        request: Request<proto::UnderstandRequest>,
    ) -> Result<Response<Self::UnderstandStreamStream>, Status> {
        let service = Arc::clone(self.state.service()?);
        let input = to_input(request.into_inner())?;
        let admission = service.admit(ROUTE)?;
        let events = service.relay(
            admission,
            input,
            |e| vec![Ok(event(e))],
            |result| match result {
                Ok(_) => vec![],
                Err(failure) => vec![Err(Status::from(Failure::new(
                    failure.status,
                    failure.code,
                    failure.message.clone(),
                )))],
            },
        );
        Ok(Response::new(ReceiverStream::new(events)))
    }
}
