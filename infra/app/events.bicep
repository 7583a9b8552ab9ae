// The subscription's Event Grid system topic (Microsoft.Resources.Subscriptions) and the event
// subscriptions that deliver to the Guard's Event Grid function.
//
// Filters come from the route table (infra/generated/event-filters.json): only the *Success event
// types and only the data.operationName values some route needs. Event Grid allows 25 advanced
// filter values per event subscription, so the generator packs routes into several subscriptions.
// Delivery: AzureFunction endpoint (no function key in the template), Event Grid schema (the
// Python trigger reads only Event Grid schema fields), one event per batch, retries for 24 h,
// then dead letters to a blob container written with a dedicated identity.
param tags object
param systemTopicName string
param eventSubscriptionsEnabled bool
param functionAppId string
param eventFunctionName string
param eventGridIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string
param maxDeliveryAttempts int = 30
param eventTimeToLiveInMinutes int = 1440

var filters = loadJsonContent('../generated/event-filters.json')

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${eventGridIdentityId}': {} }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource subscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for sub in filters.subscriptions: if (eventSubscriptionsEnabled) {
    parent: topic
    name: sub.name
    properties: {
      eventDeliverySchema: 'EventGridSchema'
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          resourceId: '${functionAppId}/functions/${eventFunctionName}'
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      filter: {
        includedEventTypes: filters.includedEventTypes
        advancedFilters: sub.advancedFilters
        enableAdvancedFilteringOnArrays: true
      }
      retryPolicy: {
        maxDeliveryAttempts: maxDeliveryAttempts
        eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      }
      deadLetterWithResourceIdentity: {
        identity: {
          type: 'UserAssigned'
          userAssignedIdentity: eventGridIdentityId
        }
        deadLetterDestination: {
          endpointType: 'StorageBlob'
          properties: {
            resourceId: deadLetterStorageAccountId
            blobContainerName: deadLetterContainerName
          }
        }
      }
    }
  }
]

output systemTopicId string = topic.id
