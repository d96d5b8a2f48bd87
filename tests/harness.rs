//! Self-tests of the test harness against the real API server: discovery,
//! the unprivileged identity, the controller-manager with the kubelet
//! stand-in, and custom resources (the reason for the reflect2 fix in
//! scripts/testenv).

mod common;

use std::time::Duration;

use common::{delete_namespace, testenv, unique_name, unique_namespace, wait_for, KubeletStandIn};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::discovery::Discovery;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn discovery_lists_apps_v1_deployment() {
    let client = testenv().client().await;
    // Discovery::run fails as a whole when one group version answers 404,
    // as one does while another test creates or deletes a CRD: retry.
    let discovery = wait_for("a complete discovery", Duration::from_secs(30), || async {
        match Discovery::new(client.clone()).run().await {
            Ok(discovery) => Some(discovery),
            Err(e) => {
                eprintln!("discovery failed, retrying: {e}");
                None
            }
        }
    })
    .await;
    let apps = discovery.get("apps").expect("API group apps");
    assert!(
        apps.versions().any(|v| v == "v1"),
        "apps has no v1: {:?}",
        apps.versions().collect::<Vec<_>>()
    );
    let kinds: Vec<String> = apps
        .versioned_resources("v1")
        .into_iter()
        .map(|(r, _)| r.kind)
        .collect();
    assert!(
        kinds.iter().any(|k| k == "Deployment"),
        "apps/v1 has no Deployment: {kinds:?}"
    );
}

#[tokio::test]
async fn unprivileged_user_is_forbidden() {
    let client = testenv().unprivileged_client().await;
    let namespaces: Api<Namespace> = Api::all(client);
    match namespaces.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "expected 403 Forbidden, got {status:?}")
        }
        Err(e) => panic!("expected 403 Forbidden, got another error: {e}"),
        Ok(list) => panic!(
            "the unprivileged user listed {} namespaces",
            list.items.len()
        ),
    }
}

#[tokio::test]
async fn deployment_becomes_available_with_kubelet_stand_in() {
    let client = testenv().client().await;
    let ns = unique_namespace(&client, "harness-deploy").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "registry.invalid/gitops-test/web:1",
                        "ports": [{ "containerPort": 8080, "protocol": "TCP" }],
                    }],
                },
            },
        },
    }))
    .expect("a valid Deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create the Deployment");

    let kubelet = KubeletStandIn::start(&client, &ns);
    let available = wait_for(
        "2 available replicas of deployment web",
        Duration::from_secs(60),
        || async {
            let d = deployments.get("web").await.ok()?;
            let available = d.status.as_ref()?.available_replicas?;
            (available == 2).then_some(available)
        },
    )
    .await;
    assert_eq!(available, 2);
    drop(kubelet);

    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn custom_resources_round_trip() {
    let client = testenv().client().await;
    let group = format!("{}.gitops.test", unique_name("h"));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("widgets.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "properties": {
                            "size": { "type": "integer" },
                            "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                        },
                    }},
                }},
            }],
        },
    }))
    .expect("a valid CRD");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create the CRD");
    let crd_name = format!("widgets.{group}");
    wait_for(
        "the CRD to be established",
        Duration::from_secs(30),
        || async {
            let crd = crds.get(&crd_name).await.ok()?;
            let established = crd
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            established.then_some(())
        },
    )
    .await;

    let ns = unique_namespace(&client, "harness-crd").await;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(&group, "v1", "Widget"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{group}/v1"),
        "kind": "Widget",
        "metadata": { "name": "w1" },
        "spec": { "size": 3, "labels": { "a": "1", "b": "2" } },
    }))
    .expect("a valid Widget");
    // The map in spec.labels is what crashed a server built with reflect2 1.0.1.
    wait_for(
        "the Widget to be created",
        Duration::from_secs(30),
        || async { widgets.create(&PostParams::default(), &widget).await.ok() },
    )
    .await;
    let list = widgets
        .list(&ListParams::default())
        .await
        .expect("list Widgets");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].data["spec"]["labels"]["b"], "2");

    delete_namespace(&client, &ns).await;
    crds.delete(&crd_name, &DeleteParams::default())
        .await
        .expect("delete the CRD");
}
